import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build, until } from '../helper.js'
import { InProcessDriver } from '../support/in-process-driver.js'

/** An id whose owner on the ring is `hostname`, found through /map_request. */
async function idOwnedBy (app: Awaited<ReturnType<typeof build>>, hostname: string): Promise<number> {
  for (let id = 100000; id < 100500; id++) {
    const res = await app.inject(`/map_request?id=${id}`)
    if (res.json().hostname === hostname) return id
  }
  throw new Error(`no id maps to ${hostname}`)
}

// heartbeats far apart: only the proxy's own report can notice a dead replica
const quietHeartbeat = { LB_HEARTBEAT_MS: '60000' }

t.test('a GET whose owner is dead is retried on the next replica and succeeds; the owner is reported and replaced', async t => {
  const driver = new InProcessDriver()
  const app = await build(t, quietHeartbeat, { driver })
  const id = await idOwnedBy(app, 'server-1')
  await driver.kill('server-1', { report: false })

  const res = await app.inject(`/home?id=${id}`)
  t.equal(res.statusCode, 200)
  t.not(res.headers['x-ringlb-replica'], 'server-1', 'answered by another replica')
  t.match(res.json(), { status: 'successful', message: /^Hello from Server: [02]$/ })

  // the heartbeat is a minute away: only the proxy's report can make the manager replace it
  while ((await app.inject('/rep')).json().N < 3) await sleep(20)
  t.same((await app.inject('/rep')).json(), { N: 3, replicas: ['server-0', 'server-1', 'server-2'] }, 'reported to the health checker and replaced')
  t.equal(driver.events.filter(e => e.type === 'create' && e.hostname === 'server-1').length, 2, 'by a new replica')
})

t.test('a POST whose owner is dead gets a 502 in the error shape, and is not retried', async t => {
  const driver = new InProcessDriver()
  const app = await build(t, quietHeartbeat, { driver })
  const id = await idOwnedBy(app, 'server-2')
  await driver.kill('server-2', { report: false })
  const others = ['server-0', 'server-1'].map(h => driver.hits(h, '/home'))

  const res = await app.inject({ method: 'POST', url: `/home?id=${id}`, payload: { a: 1 } })
  t.equal(res.statusCode, 502)
  t.match(res.json(), { status: 'failure', message: /^<Error> replica server-2 did not answer/ })
  t.same(Object.keys(res.json()).sort(), ['message', 'status'])
  t.same(['server-0', 'server-1'].map(h => driver.hits(h, '/home')), others, 'no other replica saw the POST')
})

for (const code of [500, 502, 503]) {
  t.test(`a replica answering ${code} is passed through unchanged, asked once, and stays in the ring`, async t => {
    const driver = new InProcessDriver()
    const app = await build(t, quietHeartbeat, { driver })
    const id = await idOwnedBy(app, 'server-0')
    const res = await app.inject(`/status/${code}?id=${id}`)
    t.equal(res.statusCode, code)
    t.same(res.json(), { message: `status ${code} from Server: 0`, status: 'failure' }, 'the replica\'s own body')
    t.equal(res.headers['retry-after'], '1', 'the replica\'s own headers')
    t.equal(res.headers['x-ringlb-replica'], 'server-0')
    t.equal(driver.hits('server-0', `/status/${code}`), 1, 'sent to the replica exactly once')
    for (const other of ['server-1', 'server-2']) t.equal(driver.hits(other, `/status/${code}`), 0, `not retried on ${other}`)
    t.same((await app.inject('/rep')).json().replicas, ['server-0', 'server-1', 'server-2'])
    t.equal(driver.events.filter(e => e.type === 'create').length, 3, 'no replica was replaced')
  })
}

t.test('a GET whose owner hangs is retried on the next replica after LB_PROXY_TIMEOUT_MS', async t => {
  const driver = new InProcessDriver()
  const app = await build(t, { ...quietHeartbeat, LB_PROXY_TIMEOUT_MS: '300' }, { driver })
  const id = await idOwnedBy(app, 'server-0')
  driver.hang('server-0')
  const res = await app.inject(`/home?id=${id}`)
  t.equal(res.statusCode, 200)
  t.not(res.headers['x-ringlb-replica'], 'server-0')
  t.equal(driver.hits('server-0', '/home'), 1, 'the hung owner was tried first')
})

t.test('a client that leaves while the owner hangs is owed nothing: no retry, nothing left in flight', async t => {
  const driver = new InProcessDriver()
  const app = await build(t, { ...quietHeartbeat, LB_PROXY_TIMEOUT_MS: '300' }, { driver })
  const id = await idOwnedBy(app, 'server-0')
  driver.hang('server-0')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const others = ['server-1', 'server-2'].map(h => driver.hits(h, '/home'))

  const req = http.request(`http://127.0.0.1:${port}/home?id=${id}`)
  req.on('error', () => {})
  req.end()
  await sleep(100)
  t.equal(app.replicas.load.total, 1, 'the request is in flight to its owner')
  req.destroy()
  await until('the request leaves the in-flight count', () => app.replicas.load.total === 0, 1000)
  // past the owner's timeout, when a request whose client stayed would be retried
  await sleep(600)
  t.same(['server-1', 'server-2'].map(h => driver.hits(h, '/home')), others, 'no other replica was asked')
  t.equal(app.replicas.load.total, 0, 'and none is counted in flight')
})

for (const transport of ['fast path', 'undici forwarder'] as const) {
  t.test(`a GET waiting on a replica that then fails its heartbeat is retried on the next replica at once, not after LB_PROXY_TIMEOUT_MS (${transport})`, async t => {
    const driver = new InProcessDriver()
    const app = await build(t, { LB_HEARTBEAT_MS: '300', LB_HEARTBEAT_TIMEOUT_MS: '300', LB_HEARTBEAT_MISSES: '1', LB_PROXY_TIMEOUT_MS: '30000' }, { driver })
    const id = await idOwnedBy(app, 'server-0')
    driver.hang('server-0')
    if (transport === 'fast path') await app.listen({ port: 0, host: '127.0.0.1' })
    const started = Date.now()
    const answer = transport === 'undici forwarder'
      ? app.inject(`/home?id=${id}`).then(res => ({ status: res.statusCode, replica: res.headers['x-ringlb-replica'] }))
      : fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/home?id=${id}`)
        .then(async res => { await res.arrayBuffer(); return { status: res.status, replica: res.headers.get('x-ringlb-replica') } })
    // the first heartbeat miss is 600 ms away: the request reaches the hung owner well before
    await until('the request reached the hung owner', () => driver.hits('server-0', '/home') === 1, 500, 10)
    t.pass('the hung owner was tried first')
    const { status, replica } = await answer
    const waited = Date.now() - started
    t.equal(status, 200)
    t.not(replica, 'server-0', `answered by ${replica}`)
    t.ok(waited < 5000, `answered ${waited} ms after it was sent: when the owner failed, not at the proxy timeout`)
  })
}
