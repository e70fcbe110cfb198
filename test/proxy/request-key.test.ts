import t from 'tap'
import { pickBounded } from '../../lib/rings/bounded-load.js'
import { hashText } from '../../lib/rings/hash.js'
import { type HashKeySource, parseHashKey } from '../../lib/proxy/key-sources.js'
import { type KeyInputs, keyOfText, parseIntegerId, requestKey } from '../../lib/proxy/request-key.js'
import { createRing, type Member } from '../../lib/rings/index.js'
import { members } from '../fixtures.js'

t.test('parseIntegerId takes safe decimal integers only', async t => {
  t.equal(parseIntegerId('123456'), 123456)
  t.equal(parseIntegerId('-7'), -7)
  t.equal(parseIntegerId('0'), 0)
  for (const bad of ['', 'abc', '1.5', '1e3', ' 1', '0x10', '99999999999999999']) t.equal(parseIntegerId(bad), undefined, bad)
})

t.test('the default key: id query parameter, then x-request-id, then a random 6-digit id', async t => {
  const req = (query: unknown, headers: Record<string, string>): KeyInputs => ({ query, headers, url: '/', ip: '127.0.0.1' })
  t.equal(requestKey(req({ id: '42' }, { 'x-request-id': '7' })), 42)
  t.equal(requestKey(req({ id: ['43', '44'] }, {})), 43, 'a repeated parameter: the first')
  // a decision of LB_HASH_KEY: every source's text is a key, an integer as itself and other text by its hash
  t.equal(requestKey(req({ id: 'abc' }, { 'x-request-id': '7' })), hashText('abc'), 'a non-integer id is hashed, like any source\'s text')
  t.equal(requestKey(req({ id: '' }, { 'x-request-id': '7' })), 7, 'an empty id falls through')
  t.equal(requestKey(req({}, { 'x-request-id': 'req-abc' })), hashText('req-abc'))
  t.equal(requestKey(req({}, { 'x-request-id': 'req-abc' })), requestKey(req({}, { 'x-request-id': 'req-abc' })), 'stable')
  const randoms = Array.from({ length: 500 }, () => requestKey(req({}, { 'x-request-id': '' })))
  t.ok(randoms.every(k => Number.isInteger(k) && k >= 100000 && k <= 999999), 'random keys are 6-digit')
  t.ok(new Set(randoms).size > 400, 'and random')
})

t.test('LB_HASH_KEY sources: the first with a value wins; random or none present gives a random key', async t => {
  const sources = parseHashKey('cookie:session,header:x-user,query:user,path,ip')
  const base: KeyInputs = { query: undefined, headers: {}, url: '/a/b?user=zed', ip: '10.1.2.3' }
  t.equal(requestKey({ ...base, headers: { cookie: 'x=1; session=s-9', 'x-user': 'u' } }, sources), hashText('s-9'), 'the cookie')
  t.equal(requestKey({ ...base, headers: { cookie: 'x=1', 'x-user': 'u' } }, sources), hashText('u'), 'no such cookie: the header')
  t.equal(requestKey({ ...base, query: { user: '77' } }, sources), 77, 'then the query parameter, an integer as itself')
  t.equal(requestKey(base, sources), hashText('/a/b'), 'then the path, without its query')
  t.equal(requestKey(base, parseHashKey('ip')), hashText('10.1.2.3'), 'the client address')
  const randoms = new Set(Array.from({ length: 50 }, () => requestKey(base, parseHashKey('query:missing'))))
  t.ok(randoms.size > 40, 'none present: random')
  t.ok(new Set(Array.from({ length: 50 }, () => requestKey(base, parseHashKey('random')))).size > 40, 'random: random')
  t.equal(keyOfText('123'), 123)
  t.equal(keyOfText('abc'), hashText('abc'))
})

t.test('bounded loads: an owner above factor × average load passes the request on', async t => {
  const ring = createRing<Member>({ scheme: 'maglev', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  for (const m of members(4)) ring.add(m)
  const key = 123456
  const [owner, second, third] = ring.preference(key)
  const loads = new Map<string, number>()
  const load = (h: string) => loads.get(h) ?? 0
  const total = () => [...loads.values()].reduce((a, b) => a + b, 0)
  t.equal(pickBounded(ring, key, 1.25, load, total()), owner, 'idle: the owner')
  t.equal(pickBounded(ring, key, 0, load, total()), owner, 'factor 0 is off')
  loads.set(owner.hostname, 10)
  // capacity = ceil(1.25 × 11 / 4) = 4: the owner holds 10
  t.equal(pickBounded(ring, key, 1.25, load, total()), second)
  t.equal(pickBounded(ring, key, 0, load, total()), owner, 'off: the owner whatever its load')
  loads.set(second.hostname, 10)
  t.equal(pickBounded(ring, key, 1.25, load, total()), third)
  for (const m of members(4)) loads.set(m.hostname, 10)
  // capacity = ceil(1.25 × 41 / 4) = 13: everyone has room again
  t.equal(pickBounded(ring, key, 1.25, load, total()), owner)
})

t.test('the path source is the whole target when it has no query string, and the part before the first ? when it has one', async t => {
  const path = parseHashKey('path')
  const at = (url: string): KeyInputs => ({ query: undefined, headers: {}, url, ip: '127.0.0.1' })
  t.equal(requestKey(at('/a/b'), path), hashText('/a/b'), 'no query: every character')
  t.equal(requestKey(at('/?x=1'), path), hashText('/'), 'a ? right after the first character')
  t.equal(requestKey(at('/a?b?c'), path), hashText('/a'), 'the first ?')
})

t.test('a query value that is not text, as a custom query parser may give, is no key: the next source is read', async t => {
  const req = (id: unknown): KeyInputs => ({ query: { id }, headers: { 'x-request-id': '8' }, url: '/', ip: '127.0.0.1' })
  t.equal(requestKey(req(7)), 8, 'a number')
  t.equal(requestKey(req([7, '9'])), 8, 'a list whose first value is a number')
  t.equal(requestKey(req([])), 8, 'an empty list')
  t.equal(requestKey(req({ 0: '9' })), 8, 'an object')
})

t.test('random ends the list: the sources after it are never read', async t => {
  // parseHashKey refuses a source after random; requestKey takes any list, and stops there too
  const sources: HashKeySource[] = [{ kind: 'random' }, { kind: 'query', name: 'id' }]
  const base: KeyInputs = { query: { id: '42' }, headers: {}, url: '/?id=42', ip: '127.0.0.1' }
  const keys = Array.from({ length: 20 }, () => requestKey(base, sources))
  t.ok(keys.every(k => k >= 100000 && k <= 999999), 'random 6-digit keys, never the id 42')
})
