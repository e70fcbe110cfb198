import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from '../lib/drivers/index.js'
import { build } from './helper.js'

/**
 * Replicas that echo what they receive, as real HTTP servers on loopback, so
 * the test sees exactly what the proxy forwarded. A driver over them is a fake
 * of the process driver only in how the servers are started.
 */
class EchoDriver implements Driver {
  readonly name = 'echo'
  readonly servers = new Map<string, { app: FastifyInstance, handle: ReplicaHandle }>()

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    const app = Fastify()
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
    app.get('/heartbeat', async () => 'Hello')
    app.all('/*', async (req, reply) => {
      reply.header('x-echo-server', spec.hostname).code(req.url.startsWith('/teapot') ? 418 : 200)
      return { method: req.method, url: req.url, headers: req.headers, body: (req.body as Buffer | undefined)?.toString('base64') ?? null }
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const handle = { ...spec, url }
    this.servers.set(spec.hostname, { app, handle })
    return handle
  }

  async remove (hostname: string): Promise<void> {
    await this.servers.get(hostname)?.app.close()
    this.servers.delete(hostname)
  }

  async list (): Promise<ReplicaHandle[]> { return [...this.servers.values()].map(s => s.handle) }
  onExit (_listener: (exit: ReplicaExit) => void): void {}
  async close (): Promise<void> { for (const name of [...this.servers.keys()]) await this.remove(name) }
}

t.test('the proxy forwards method, path, query, headers and body, and passes the answer back', async t => {
  const driver = new EchoDriver()
  const app = await build(t, {}, { driver })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${address.port}`

  t.test('a JSON POST arrives byte for byte', async t => {
    const payload = '{"b": 2,  "a":[1,2]}'
    const res = await request(`${base}/api/items?id=42&x=1&x=2`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-custom': 'yes' }, body: payload })
    t.equal(res.statusCode, 200)
    const echo = await res.body.json() as { method: string, url: string, headers: Record<string, string>, body: string }
    t.equal(echo.method, 'POST')
    t.equal(echo.url, '/api/items?id=42&x=1&x=2')
    t.equal(echo.headers['x-custom'], 'yes')
    t.equal(echo.headers['content-type'], 'application/json')
    t.equal(Buffer.from(echo.body, 'base64').toString(), payload, 'not re-encoded')
    t.equal(res.headers['x-ringlb-replica'], app.ring.lookup(42)?.hostname)
    t.equal(res.headers['x-echo-server'], app.ring.lookup(42)?.hostname, 'the owner of id 42 answered')
  })

  t.test('binary bodies, other methods and statuses pass through', async t => {
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255])
    const put = await request(`${base}/blob?id=7`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes })
    const echo = await put.body.json() as { method: string, body: string }
    t.equal(echo.method, 'PUT')
    t.same(Buffer.from(echo.body, 'base64'), bytes)
    const teapot = await request(`${base}/teapot?id=7`, { method: 'DELETE' })
    t.equal(teapot.statusCode, 418, 'the replica\'s status is kept')
    t.equal((await teapot.body.json() as { method: string }).method, 'DELETE')
    const get = await request(`${base}/?id=7`)
    t.equal((await get.body.json() as { url: string }).url, '/?id=7', 'the root path is proxied too')
  })

  t.test('a proxied body over the limit is refused by the balancer', async t => {
    const res = await request(`${base}/big?id=1`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(2 * 1024 * 1024) })
    t.equal(res.statusCode, 413)
    t.same(await res.body.json(), { message: '<Error> request body is larger than the limit (LB_BODY_LIMIT)', status: 'failure' })
  })

  t.test('the pool of a replica that leaves is closed', async t => {
    const victim = app.ring.lookup(42)!
    t.ok(app.upstreams.origins().includes(victim.url), 'a pool was opened for the replica')
    await app.replicas.remove(1, [victim.hostname])
    t.notOk(app.upstreams.origins().includes(victim.url), 'and closed when it left')
    const res = await request(`${base}/after?id=42`)
    t.not(res.headers['x-ringlb-replica'], victim.hostname)
    await res.body.dump()
  })
})
