import { performance } from 'node:perf_hooks'
import t from 'tap'
import { InFlight } from '../../lib/proxy/in-flight.js'
import { parseHashKey } from '../../lib/proxy/key-sources.js'
import { Lifecycle, NO_REPLICAS, type ProxyTarget, replicaFailed } from '../../lib/proxy/lifecycle.js'
import { createRing } from '../../lib/rings/index.js'

/*
 * The lifecycle's decisions on a real ring and real in-flight counts; the
 * counts it reports are recorded. Transports over real sockets are tested in
 * fast-path.test.ts, proxy.test.ts and failover.test.ts.
 */

const KEY = 123456
const source = (id: number | string = KEY): { query: Record<string, string>, headers: Record<string, string>, url: string, ip: string } => ({ query: { id: String(id) }, headers: {}, url: `/?id=${id}`, ip: '127.0.0.1' })

function setup (n = 3, balanceFactor = 0, hashKey?: string) {
  const ring = createRing<ProxyTarget>({ scheme: 'maglev', slots: 512, vnodes: 9, tableSize: 251, ringVnodes: 160 })
  for (let id = 0; id < n; id++) ring.add({ id, hostname: `server-${id}`, url: `http://127.0.0.1:${40000 + id}` })
  const load = new InFlight()
  const events: string[] = []
  const seconds: number[] = []
  const lifecycle = new Lifecycle<ProxyTarget>({
    ring,
    load,
    balanceFactor,
    reportFailure: hostname => events.push(`report ${hostname}`),
    counts: {
      answered: (hostname, statusCode, s) => { events.push(`answered ${hostname} ${statusCode}`); seconds.push(s) },
      broken: hostname => events.push(`broken ${hostname}`),
      retried: hostname => events.push(`retried ${hostname}`)
    },
    hashKey: hashKey === undefined ? undefined : parseHashKey(hashKey)
  })
  const [owner, next, third] = ring.preference(KEY).map(r => r.hostname)
  return { ring, load, events, seconds, lifecycle, owner, next, third }
}

t.test('a request goes to its key\'s owner, counted in flight until it is answered', async t => {
  const { lifecycle, load, events, seconds, owner } = setup()
  const request = lifecycle.begin(source(), 'GET')
  t.equal(request?.key, KEY, 'the key from the id parameter')
  t.equal(request?.replica.hostname, owner)
  t.equal(load.get(owner), 1)
  t.equal(load.total, 1)
  request?.answered(200)
  request?.answered(200)
  t.equal(load.total, 0, 'counted out once, however often the transport reports')
  t.same(events, [`answered ${owner} 200`, `answered ${owner} 200`])
  t.ok(seconds.every(s => s >= 0 && s < 5), 'the time it took, in seconds')
})

t.test('with no replica there is no request: the transport answers 503', async t => {
  const { lifecycle, ring, load } = setup(1)
  ring.remove('server-0')
  t.equal(lifecycle.begin(source(), 'GET'), undefined)
  t.equal(load.total, 0)
})

t.test('an idempotent request that got no answer is reported and tried once more on the next replica', async t => {
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']) {
    const { lifecycle, load, events, owner, next } = setup()
    const request = lifecycle.begin(source(), method)
    if (request === undefined) throw new Error('no request')
    t.same(request.noAnswer('ECONNREFUSED'), { retry: request.replica }, `${method}: a retry`)
    t.equal(request.replica.hostname, next, `${method}: on the next replica in the scheme's order`)
    t.same(load.entries(), [[next, 1]], `${method}: the owner counted out, the next counted in`)
    const second = request.noAnswer('ECONNRESET')
    t.same(second, { statusCode: 502, message: `replica ${next} did not answer (ECONNRESET)` }, `${method}: one retry only, then 502`)
    t.equal(load.total, 0)
    t.same(events, [`report ${owner}`, `retried ${owner}`, `report ${next}`, `answered ${next} 502`], method)
  }
})

t.test('a request that is not idempotent is not retried', async t => {
  for (const method of ['POST', 'PATCH', 'CONNECT', 'get']) {
    const { lifecycle, load, events, owner } = setup()
    const request = lifecycle.begin(source(), method)
    t.same(request?.noAnswer('ECONNREFUSED'), { statusCode: 502, message: `replica ${owner} did not answer (ECONNREFUSED)` }, method)
    t.equal(load.total, 0)
    t.same(events, [`report ${owner}`, `answered ${owner} 502`])
  }
})

t.test('a timeout is a 504, any other failure a 502', async t => {
  for (const code of ['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']) {
    const { lifecycle, owner } = setup()
    t.same(lifecycle.begin(source(), 'POST')?.noAnswer(code), { statusCode: 504, message: `replica ${owner} did not answer (${code})` }, code)
  }
  for (const code of ['ECONNREFUSED', 'UND_ERR_SOCKET', 'UND_ERR_BODY_TIMEOUT', '']) {
    const { lifecycle } = setup()
    t.equal((lifecycle.begin(source(), 'POST')?.noAnswer(code) as { statusCode: number }).statusCode, 502, JSON.stringify(code))
  }
})

t.test('with one replica there is nowhere to retry: 502 at once', async t => {
  const { lifecycle, events } = setup(1)
  t.same(lifecycle.begin(source(), 'GET')?.noAnswer('ECONNREFUSED'), { statusCode: 502, message: 'replica server-0 did not answer (ECONNREFUSED)' })
  t.same(events, ['report server-0', 'answered server-0 502'])
})

t.test('an answer that cannot be passed on is a 502, not retried and not reported', async t => {
  const { lifecycle, load, events, owner } = setup()
  const request = lifecycle.begin(source(), 'GET')
  t.same(request?.badAnswer('malformed header line'), { statusCode: 502, message: `replica ${owner} failed: malformed header line` })
  t.equal(load.total, 0)
  t.same(events, [`answered ${owner} 502`])
})

t.test('an answer broken off midway is counted and reported; a client gone is owed nothing', async t => {
  const { lifecycle, load, events, owner } = setup()
  lifecycle.begin(source(), 'GET')?.broken()
  t.equal(load.total, 0)
  t.same(events, [`broken ${owner}`, `report ${owner}`])
  const gone = lifecycle.begin(source(), 'GET')
  t.equal(load.total, 1)
  gone?.clientGone()
  gone?.clientGone()
  t.equal(load.total, 0, 'counted out once')
  t.same(events, [`broken ${owner}`, `report ${owner}`], 'nothing counted for a client gone')
})

t.test('retryOn gives the next distinct replica in the scheme\'s order, never the failed one', async t => {
  const { lifecycle, ring, owner, next, third } = setup()
  const failed = (hostname: string) => ring.members().find(r => r.hostname === hostname) as ProxyTarget
  t.equal(lifecycle.retryOn(KEY, failed(owner))?.hostname, next)
  t.equal(lifecycle.retryOn(KEY, failed(next))?.hostname, owner, 'a failed retry target: the owner comes first again')
  t.equal(lifecycle.retryOn(KEY, failed(third))?.hostname, owner)
})

t.test('pick: the owner, or with bounded loads the next replica with room', async t => {
  const off = setup(3, 0)
  for (let i = 0; i < 10; i++) off.load.inc(off.owner)
  t.equal(off.lifecycle.pick(KEY)?.hostname, off.owner, 'factor 0: the owner whatever its load')
  const bounded = setup(3, 1.25)
  t.equal(bounded.lifecycle.pick(KEY)?.hostname, bounded.owner, 'idle: the owner')
  for (let i = 0; i < 10; i++) bounded.load.inc(bounded.owner)
  t.equal(bounded.lifecycle.pick(KEY)?.hostname, bounded.next, 'a loaded owner passes the request on')
  const request = bounded.lifecycle.begin(source(), 'GET')
  t.equal(request?.replica.hostname, bounded.next, 'and so does begin')
})

t.test('the time counted is the time from the request\'s arrival to its answer, in seconds', async t => {
  const { lifecycle, seconds } = setup()
  const before = performance.now()
  const request = lifecycle.begin(source(), 'GET')
  const begun = performance.now()
  await new Promise(resolve => setTimeout(resolve, 20))
  const answering = performance.now()
  request?.answered(200)
  const after = performance.now()
  t.ok(seconds[0] >= (answering - begun) / 1000, `at least the time between begin and answer: ${seconds[0]}`)
  t.ok(seconds[0] <= (after - before) / 1000, `at most the time around them: ${seconds[0]}`)
})

t.test('an upgraded request is counted as answered 101 at once, and stays in flight until its tunnel closes', async t => {
  const { lifecycle, load, events, seconds, owner } = setup()
  const request = lifecycle.begin(source(), 'GET')
  request?.upgraded()
  t.same(events, [`answered ${owner} 101`])
  t.ok(seconds[0] >= 0 && seconds[0] < 5, 'the handshake\'s time')
  t.equal(load.get(owner), 1, 'in flight while the tunnel lasts')
  request?.tunnelClosed()
  t.equal(load.get(owner), 0, 'out when it closes')
  request?.tunnelClosed()
  t.equal(load.total, 0, 'counted out once')
  t.same(events, [`answered ${owner} 101`], 'nothing more counted')
})

t.test('requests still waiting on a failed replica end with a reset connection, so an idempotent one is retried', async t => {
  const error = replicaFailed()
  t.ok(error instanceof Error)
  t.equal((error as Error & { code: string }).code, 'ECONNRESET')
  t.match(error.message, /replica failed/, 'a message for the log')
  const { lifecycle, next } = setup()
  const request = lifecycle.begin(source(), 'GET')
  t.same(request?.noAnswer((error as Error & { code: string }).code), { retry: request?.replica })
  t.equal(request?.replica.hostname, next)
})

t.test('with no replica the transport answers the contract\'s 503 message', async t => {
  t.equal(NO_REPLICAS, 'no replicas are available')
})

t.test('the key comes from the configured sources, and the lifecycle names the headers and query parameters they read', async t => {
  const { lifecycle } = setup(3, 0, 'cookie:s,header:x-user,query:user,path,query:id')
  t.same([...lifecycle.keyHeaders], ['cookie', 'x-user'])
  t.same(lifecycle.keyParameters, ['user', 'id'], 'the query sources, in order')
  const request = lifecycle.begin({ query: { id: '5' }, headers: { 'x-user': '77' }, url: '/?id=5', ip: '127.0.0.1' }, 'GET')
  t.equal(request?.key, 77, 'the header before the id')
  t.same(setup(3, 0, 'header:x-user,ip').lifecycle.keyParameters, [], 'no query source: no parameter to parse')
  t.same(setup().lifecycle.keyParameters, ['id'], 'the default: the id parameter')
})

t.test('with bounded loads off a pick is one ring lookup: neither the loads nor the preference order are read', async t => {
  const { lifecycle, ring, load, owner } = setup(3, 0)
  const read: string[] = []
  const preference = ring.preference.bind(ring)
  ring.preference = (key, limit) => { read.push('preference'); return preference(key, limit) }
  const get = load.get.bind(load)
  load.get = hostname => { read.push('load'); return get(hostname) }
  t.equal(lifecycle.pick(KEY)?.hostname, owner)
  t.same(read, [])
  const bounded = setup(3, 1.25)
  const boundedPreference = bounded.ring.preference.bind(bounded.ring)
  bounded.ring.preference = (key, limit) => { read.push('preference'); return boundedPreference(key, limit) }
  t.equal(bounded.lifecycle.pick(KEY)?.hostname, bounded.owner)
  t.same(read, ['preference'], 'on: the preference order is read')
})
