import t from 'tap'
import { pickBounded } from '../../lib/rings/bounded-load.js'
import { hashText } from '../../lib/rings/hash.js'
import { parseIntegerId, requestKey } from '../../lib/proxy/request-key.js'
import { createRing, type Member } from '../../lib/rings/index.js'
import { members } from '../fixtures.js'

t.test('parseIntegerId takes safe decimal integers only', async t => {
  t.equal(parseIntegerId('123456'), 123456)
  t.equal(parseIntegerId('-7'), -7)
  t.equal(parseIntegerId('0'), 0)
  for (const bad of ['', 'abc', '1.5', '1e3', ' 1', '0x10', '99999999999999999']) t.equal(parseIntegerId(bad), undefined, bad)
})

t.test('the key: id query parameter, then x-request-id, then a random 6-digit id', async t => {
  t.equal(requestKey({ query: { id: '42' }, headers: { 'x-request-id': '7' } }), 42)
  t.equal(requestKey({ query: { id: ['43', '44'] }, headers: {} }), 43, 'a repeated parameter: the first')
  t.equal(requestKey({ query: { id: 'abc' }, headers: { 'x-request-id': '7' } }), 7, 'a non-integer id falls through')
  t.equal(requestKey({ query: {}, headers: { 'x-request-id': 'req-abc' } }), hashText('req-abc'))
  t.equal(requestKey({ query: {}, headers: { 'x-request-id': 'req-abc' } }), requestKey({ query: {}, headers: { 'x-request-id': 'req-abc' } }), 'stable')
  const randoms = Array.from({ length: 500 }, () => requestKey({ query: {}, headers: { 'x-request-id': '' } }))
  t.ok(randoms.every(k => Number.isInteger(k) && k >= 100000 && k <= 999999), 'random keys are 6-digit')
  t.ok(new Set(randoms).size > 400, 'and random')
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
