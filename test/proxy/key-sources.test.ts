import t from 'tap'
import { loadConfig } from '../../lib/config.js'
import { cookieValue, keyHeaders, parseHashKey } from '../../lib/proxy/key-sources.js'

t.test('LB_HASH_KEY: an ordered list of sources; the default is the id parameter, then X-Request-Id, then random', async t => {
  t.same(loadConfig({}).LB_HASH_KEY, [{ kind: 'query', name: 'id' }, { kind: 'header', name: 'x-request-id' }, { kind: 'random' }])
  t.same(parseHashKey('cookie:session, header:X-User ,query:user,path,ip'), [
    { kind: 'cookie', name: 'session' },
    { kind: 'header', name: 'x-user' },
    { kind: 'query', name: 'user' },
    { kind: 'path' },
    { kind: 'ip' }
  ], 'header names lower-cased, spaces trimmed')
  t.same([...keyHeaders(parseHashKey('header:x-a,cookie:s,query:q,header:x-b'))], ['x-a', 'cookie', 'x-b'], 'what the fast path must read')
  t.same([...keyHeaders(parseHashKey('header:x-a,query:q,path'))], ['x-a'], 'no cookie source: the Cookie header is not read')
  t.same([...keyHeaders(parseHashKey('query:q,ip,random'))], [], 'no header or cookie source: no header')
})

t.test('a bad LB_HASH_KEY stops start-up naming the variable and the entry', async t => {
  const cases: Array<[string, RegExp]> = [
    ['query', /LB_HASH_KEY has 'query': give query:<name>/],
    ['header', /LB_HASH_KEY has 'header': give header:<header name>/],
    ['header:', /LB_HASH_KEY has 'header:': give header:<header name>/],
    ['header:x y', /LB_HASH_KEY has 'header:x y'/],
    ['cookie:a=b', /LB_HASH_KEY has 'cookie:a=b'/],
    ['path:x', /LB_HASH_KEY has 'path:x': path takes no name/],
    ['host', /LB_HASH_KEY has 'host': a source is query:<name>, header:<name>, cookie:<name>, path, ip or random/],
    ['query:id,,ip', /LB_HASH_KEY has an empty entry/],
    ['ip,ip', /LB_HASH_KEY lists ip twice/],
    ['header:X-A,header:x-a', /LB_HASH_KEY lists header:x-a twice/],
    ['random,query:id', /LB_HASH_KEY has query:id after random, which always yields a key/]
  ]
  for (const [value, message] of cases) t.throws(() => loadConfig({ LB_HASH_KEY: value }), { name: 'ConfigError', message }, value)
})

t.test('a cookie is found by name among others, quotes removed', async t => {
  t.equal(cookieValue('a=1; session=abc; b=2', 'session'), 'abc')
  t.equal(cookieValue('session="q v"', 'session'), 'q v')
  t.equal(cookieValue('xsession=1; session=2', 'session'), '2', 'not by suffix')
  t.equal(cookieValue('a=1', 'session'), undefined)
  t.equal(cookieValue('session=1; session=2', 'session'), '1', 'the first')
  t.equal(cookieValue('b=2; a=1', 'a'), '1', 'a one-letter name')
  t.equal(cookieValue('sessionx; session=s-1', 'session'), 's-1', 'a pair without = is no cookie of that name')
  t.equal(cookieValue('session=s-1 ; b=2', 'session'), 's-1', 'spaces around a value are not part of it')
  t.equal(cookieValue('session=a"b"', 'session'), 'a"b"', 'quotes inside a value stay')
  t.equal(cookieValue('session="a"b', 'session'), '"a"b', 'a value that only starts with a quote keeps it')
})
