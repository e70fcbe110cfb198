import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { build } from '../helper.js'

/*
 * LB_HASH_KEY over real sockets, on both transports: a bodiless GET goes the
 * fast path's way, a POST with a body the undici forwarder's. Whatever the
 * transport, a request whose key is <text> reaches the replica
 * /map_request?key=<text> names.
 */

type App = Awaited<ReturnType<typeof build>>

async function listening (app: App): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

async function owner (app: App, key: string): Promise<string> {
  const res = await app.inject(`/map_request?key=${encodeURIComponent(key)}`)
  return res.json().hostname
}

/** The replica that answered a GET (fast path) and a POST (undici path) of the same request. */
async function reached (base: string, path: string, headers: Record<string, string>): Promise<{ get: string, post: string }> {
  const get = await request(`${base}${path}`, { headers })
  await get.body.dump()
  const post = await request(`${base}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'x' })
  await post.body.dump()
  return { get: String(get.headers['x-ringlb-replica']), post: String(post.headers['x-ringlb-replica']) }
}

t.test('cookie, header, query and path sources, first present wins, on both transports', async t => {
  const app = await build(t, { LB_HASH_KEY: 'cookie:sess,header:x-user,query:user,path' })
  const base = await listening(app)
  const values = Array.from({ length: 12 }, (_, i) => `user-${i * 7919}`)
  const cases: Array<[string, (v: string) => { path: string, headers: Record<string, string> }]> = [
    ['cookie:sess', v => ({ path: '/p?user=other', headers: { cookie: `a=1; sess=${v}; b=2`, 'x-user': 'other' } })],
    ['header:x-user', v => ({ path: '/p?user=other', headers: { cookie: 'a=1', 'x-user': v } })],
    ['query:user', v => ({ path: `/p?user=${v}&x=1`, headers: {} })],
    ['path', v => ({ path: `/${v}?x=1`, headers: {} })]
  ]
  for (const [source, request] of cases) {
    for (const value of values) {
      const { path, headers } = request(value)
      const expected = await owner(app, source === 'path' ? `/${value}` : value)
      const { get, post } = await reached(base, path, headers)
      t.equal(get, expected, `${source} ${value}: the fast path`)
      t.equal(post, expected, `${source} ${value}: the undici path`)
    }
  }
  const owners = new Set(await Promise.all(values.map(async v => await owner(app, v))))
  t.ok(owners.size > 1, 'the values spread over the replicas, so agreement means something')
})

t.test('the ip source: every request from one client reaches the owner of its address', async t => {
  const app = await build(t, { LB_HASH_KEY: 'ip' })
  const base = await listening(app)
  const expected = await owner(app, '127.0.0.1')
  for (let i = 0; i < 10; i++) {
    const { get, post } = await reached(base, `/any?id=${i}`, { 'x-request-id': String(i) })
    t.equal(get, expected)
    t.equal(post, expected)
  }
})

t.test('the default key still reads ?id= then X-Request-Id, and /map_request?key= agrees with ?id=', async t => {
  const app = await build(t)
  const base = await listening(app)
  for (const id of [1, 42, 123456]) {
    const byId = (await app.inject(`/map_request?id=${id}`)).json().hostname
    t.equal(await owner(app, String(id)), byId)
    t.same(await reached(base, `/home?id=${id}`, {}), { get: byId, post: byId })
    t.same(await reached(base, '/home', { 'x-request-id': String(id) }), { get: byId, post: byId })
  }
  const uuid = '2f1c0a4e-8d7b-4c55-9a3e-6b0d1f2e3c4d'
  const byKey = await owner(app, uuid)
  t.same(await reached(base, '/home', { 'x-request-id': uuid }), { get: byKey, post: byKey }, 'a text request id: its hash')
})
