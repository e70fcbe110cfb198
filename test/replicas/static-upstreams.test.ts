import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { build, until } from '../helper.js'

/*
 * LB_DRIVER=static: servers the balancer does not run, here plain node:http
 * servers the test starts, stops and starts again on the same port. The
 * balancer only health-checks them: it never starts, stops or replaces one.
 */

const json = { 'content-type': 'application/json' }

/** A server the test owns: answers its health path and says who it is; `stop` and `start` keep its port. */
class Upstream {
  readonly server: http.Server
  requests = 0
  port = 0

  constructor (readonly name: string) {
    this.server = http.createServer((req, res) => {
      this.requests++
      if (req.url === '/healthz') { res.writeHead(204).end(); return }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ upstream: this.name, url: req.url }))
    })
  }

  get url (): string { return `http://127.0.0.1:${this.port}` }

  async start (): Promise<void> {
    this.server.listen(this.port, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as AddressInfo).port
  }

  async stop (): Promise<void> {
    const closed = once(this.server, 'close')
    this.server.close()
    this.server.closeAllConnections()
    await closed
  }

  get listening (): boolean { return this.server.listening }
}

async function upstreams (...names: string[]): Promise<Upstream[]> {
  const list = names.map(name => new Upstream(name))
  for (const u of list) await u.start()
  return list
}

async function rep (app: Awaited<ReturnType<typeof build>>): Promise<string[]> {
  return (await app.inject('/rep')).json().replicas
}

t.test('static upstreams: health-checked, ejected on failure, back on recovery, never started or stopped', async t => {
  const [a, b, c] = await upstreams('a', 'b', 'c')
  t.teardown(async () => { for (const u of [a, b, c]) if (u.listening) await u.stop() })
  const app = await build(t, {
    LB_DRIVER: 'static',
    LB_UPSTREAMS: `a=${a.url},b=${b.url},c=${c.url}`,
    LB_HEALTH_PATH: '/healthz',
    LB_HEARTBEAT_MS: '100',
    LB_HEARTBEAT_TIMEOUT_MS: '300'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  t.test('the upstreams are the ring, and each gets the keys it owns', async t => {
    t.same(await rep(app), ['a', 'b', 'c'])
    for (let id = 0; id < 30; id++) {
      const res = await request(`${base}/item?id=${id}`)
      const body = await res.body.json() as { upstream: string }
      t.equal(body.upstream, app.ring.lookup(id)?.hostname, `id ${id} reached its owner`)
    }
  })

  t.test('a failing upstream leaves the ring and is not restarted; recovered, it comes back', async t => {
    await b.stop()
    await until('b out of the ring', async () => !(await rep(app)).includes('b'))
    t.same(await rep(app), ['a', 'c'])
    const stats = (await app.inject('/stats')).json() as { replicas: Array<{ hostname: string, state: string, respawns: number }> }
    t.match(stats.replicas.find(r => r.hostname === 'b'), { state: 'failed', respawns: 0 }, 'known, failed, never replaced')
    await new Promise(resolve => setTimeout(resolve, 500))
    t.notOk(b.listening, 'nothing started it again')
    const res = await request(`${base}/x?id=1`)
    t.equal(res.statusCode, 200, 'the others answer')
    await res.body.dump()

    await b.start()
    await until('b back in the ring', async () => (await rep(app)).includes('b'))
    t.same(await rep(app), ['a', 'b', 'c'])
  })

  t.test('/add with urls adds running servers; /rm takes them out and leaves them running', async t => {
    const [d, e] = await upstreams('d', 'e')
    t.teardown(async () => { for (const u of [d, e]) if (u.listening) await u.stop() })
    const added = await app.inject({ method: 'POST', url: '/add', headers: json, payload: { n: 2, hostnames: ['d'], urls: [d.url, `${e.url}/`] } })
    t.equal(added.statusCode, 200, added.body)
    t.same(added.json().message, { N: 5, replicas: ['a', 'b', 'c', 'd', 'server-4'] })
    const owner = (name: string): number => { let id = 0; while (app.ring.lookup(id)?.hostname !== name) id++; return id }
    const res = await request(`${base}/y?id=${owner('server-4')}`)
    t.equal((await res.body.json() as { upstream: string }).upstream, 'e', 'the generated name reaches the server at its url')

    const removed = await app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: { n: 2, hostnames: ['d', 'a'] } })
    t.equal(removed.statusCode, 200, removed.body)
    t.same(removed.json().message, { N: 3, replicas: ['b', 'c', 'server-4'] })
    t.ok(d.listening && a.listening, 'removed servers still run')
    const direct = await request(`${a.url}/still-there`)
    t.equal(direct.statusCode, 200, 'and answer')
    await direct.body.dump()
  })

  t.test('/add refuses bad urls in the error shape and changes nothing', async t => {
    const free = new Upstream('never-started')
    await free.start()
    const unreachable = free.url
    await free.stop()
    const before = await rep(app)
    const cases: Array<[unknown, number, RegExp]> = [
      [{ n: 1 }, 400, /urls is required with LB_DRIVER=static/],
      [{ n: 2, urls: [unreachable] }, 400, /urls has 1 entries for n=2/],
      [{ n: 1, urls: ['ftp://127.0.0.1:21'] }, 400, /is not an http:\/\/ URL/],
      [{ n: 1, urls: ['not a url'] }, 400, /is not a URL/],
      [{ n: 1, urls: [`${a.url}/path`] }, 400, /has a path, query or fragment/],
      [{ n: 1, urls: [42] }, 400, /42 is not a URL string/],
      [{ n: 2, urls: [a.url, `${a.url}/`] }, 400, /is given more than once/],
      [{ n: 1, urls: [b.url] }, 409, /is already balanced as 'b'/],
      [{ n: 1, hostnames: ['c'], urls: [a.url] }, 409, /a replica named 'c' already exists/],
      [{ n: 1, urls: [unreachable] }, 503, /did not answer GET \/healthz/]
    ]
    for (const [payload, status, message] of cases) {
      const res = await app.inject({ method: 'POST', url: '/add', headers: json, payload: payload as object })
      t.equal(res.statusCode, status, JSON.stringify(payload))
      t.match(res.json(), { message: /^<Error> /, status: 'failure' })
      t.match(res.json().message, message)
    }
    t.same(await rep(app), before, 'the ring is as it was')
    t.equal((await app.inject('/stats')).json().replicas.length, before.length, 'and nothing half-added is tracked')
  })
})

t.test('/add with urls is refused when the balancer runs its replicas itself', async t => {
  const { EchoDriver } = await import('../support/echo-driver.js')
  const app = await build(t, { LB_REPLICAS: '1' }, { driver: new EchoDriver() })
  const res = await app.inject({ method: 'POST', url: '/add', headers: json, payload: { n: 1, urls: ['http://127.0.0.1:1'] } })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { message: /^<Error> urls is only read with LB_DRIVER=static/, status: 'failure' })
})
