import t from 'tap'
import { request } from 'undici'
import { ProcessDriver } from '../lib/replicas/drivers/process.js'
import { build, until } from './helper.js'

t.test('the balancer over real sockets with real replica processes', async t => {
  const driver = new ProcessDriver({ host: '127.0.0.1', startTimeoutMs: 10_000 })
  const app = await build(t, {}, { driver })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`${base}${path}`, { headers })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  }

  t.test('/home goes to the replica /map_request names', async t => {
    for (const id of [123456, 654321, 111111, 999999, 100000, 424242]) {
      const mapping = JSON.parse((await get(`/map_request?id=${id}`)).body)
      const home = await get(`/home?id=${id}`)
      t.equal(home.status, 200)
      t.equal(home.headers['x-ringlb-replica'], mapping.hostname, `id ${id}`)
      t.same(JSON.parse(home.body), { message: `Hello from Server: ${mapping.mapped_server}`, status: 'successful' })
    }
  })

  t.test('x-request-id is the key when there is no id parameter, UUIDs included', async t => {
    const mapping = JSON.parse((await get('/map_request?id=777777')).body)
    const byHeader = await get('/home', { 'x-request-id': '777777' })
    t.equal(byHeader.headers['x-ringlb-replica'], mapping.hostname)
    const uuid = '0b8f3c9e-6a0e-4a53-9c55-2f1f0d0e8a11'
    const first = await get('/home', { 'x-request-id': uuid })
    for (let i = 0; i < 5; i++) t.equal((await get('/home', { 'x-request-id': uuid })).headers['x-ringlb-replica'], first.headers['x-ringlb-replica'])
    const byQuery = await get('/home?id=777777', { 'x-request-id': '1' })
    t.equal(byQuery.headers['x-ringlb-replica'], mapping.hostname, 'the query parameter wins')
  })

  t.test('anonymous requests spread over the replicas', async t => {
    const seen = new Set<string>()
    for (let i = 0; i < 60; i++) seen.add(String((await get('/home')).headers['x-ringlb-replica']))
    t.same([...seen].sort(), ['server-0', 'server-1', 'server-2'])
  })

  t.test('an unknown path is answered by a replica, with its 404 body', async t => {
    const res = await get('/nowhere?id=5')
    t.equal(res.status, 404)
    t.ok(res.headers['x-ringlb-replica'])
    t.same(JSON.parse(res.body), { message: "<Error> '/nowhere' endpoint does not exist in server replicas", status: 'failure' })
  })

  t.test('a replica killed with SIGKILL leaves the ring and is replaced under its name and id', async t => {
    const victim = app.ring.lookup(123456)
    t.ok(victim)
    const pid = driver.pid(victim!.hostname) as number
    process.kill(pid, 'SIGKILL')
    await until('out of the ring', () => !app.ring.has(victim!.hostname), 5000)
    t.notOk(app.ring.has(victim!.hostname), 'out of the ring')
    await until('back in the ring', () => app.ring.has(victim!.hostname), 10_000)
    t.ok(app.ring.has(victim!.hostname), 'back in the ring')
    const fresh = driver.pid(victim!.hostname)
    t.not(fresh, pid, 'a new process')
    t.equal(app.ring.lookup(123456)?.hostname, victim!.hostname, 'the same id maps to it again')
    const home = await get('/home?id=123456')
    t.equal(home.status, 200)
    t.same(JSON.parse(home.body).message, `Hello from Server: ${victim!.id}`)
    t.equal(app.replicas.all().find(r => r.hostname === victim!.hostname)?.restarts, 1)
  })

  t.test('/add over HTTP starts a process that serves; /rm stops it', async t => {
    const add = await request(`${base}/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1,"hostnames":["extra"]}' })
    t.equal(add.statusCode, 200)
    t.same(((await add.body.json()) as { message: { N: number } }).message.N, 4)
    const pid = driver.pid('extra') as number
    t.ok(pid)
    const id = [...Array(200_000).keys()].find(i => app.ring.lookup(i)?.hostname === 'extra') as number
    t.equal((await get(`/home?id=${id}`)).headers['x-ringlb-replica'], 'extra')
    const rm = await request(`${base}/rm`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{"n":1,"hostnames":["extra"]}' })
    t.equal(rm.statusCode, 200)
    await rm.body.dump()
    t.equal(driver.pid('extra'), undefined)
    t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the process is gone')
    t.not((await get(`/home?id=${id}`)).headers['x-ringlb-replica'], 'extra')
  })
})

t.test('a failed /add leaves nothing behind', async t => {
  /** A real process driver whose second start in a batch fails, as an engine error would. */
  class FlakyDriver extends ProcessDriver {
    failNext = false
    override async create (spec: { id: number, hostname: string }) {
      if (this.failNext && spec.hostname === 'second') throw new Error('engine said no')
      return await super.create(spec)
    }
  }
  const driver = new FlakyDriver({ host: '127.0.0.1', startTimeoutMs: 10_000 })
  const app = await build(t, { LB_REPLICAS: '2' }, { driver })
  driver.failNext = true
  const res = await app.inject({ method: 'POST', url: '/add', headers: { 'content-type': 'application/json' }, payload: '{"n":2,"hostnames":["first","second"]}' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { message: "<Error> could not start 'second': engine said no", status: 'failure' })
  t.same((await driver.list()).map(r => r.hostname).sort(), ['server-0', 'server-1'], 'the replica that did start was removed')
  t.same(app.ring.members().map(r => r.hostname), ['server-0', 'server-1'])
  t.same(app.replicas.all().map(r => r.hostname), ['server-0', 'server-1'])
})

t.test('a replica that never answers its heartbeat is not added', async t => {
  /** Starts real replicas, but freezes the one named 'mute' once it listens. */
  class MuteDriver extends ProcessDriver {
    override async create (spec: { id: number, hostname: string }) {
      const handle = await super.create(spec)
      if (spec.hostname === 'mute') process.kill(this.pid(spec.hostname) as number, 'SIGSTOP')
      return handle
    }
  }
  const driver = new MuteDriver({ host: '127.0.0.1', startTimeoutMs: 10_000 })
  const app = await build(t, { LB_REPLICAS: '1', LB_READY_TIMEOUT_MS: '300' }, { driver })
  const res = await app.inject({ method: 'POST', url: '/add', headers: { 'content-type': 'application/json' }, payload: '{"n":1,"hostnames":["mute"]}' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { message: /^<Error> could not start 'mute': no heartbeat within 300 ms/ })
  t.equal(driver.pid('mute'), undefined, 'the frozen process was removed')
  t.same(app.ring.members().map(r => r.hostname), ['server-0'])
})
