import { once } from 'node:events'
import { type AddressInfo, connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, until } from '../helper.js'
import { InProcessDriver } from '../support/in-process-driver.js'
import { type EchoClient, openEcho } from '../support/websocket-client.js'

/** The balancer listening on a loopback port, over in-process replicas on real sockets. */
async function listening (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, base: string, driver: InProcessDriver }> {
  const driver = new InProcessDriver()
  const app = await build(t, env, { driver })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, driver }
}

async function mapped (app: FastifyInstance, key: number): Promise<{ hostname: string, mapped_server: number }> {
  return (await app.inject({ method: 'GET', url: `/map_request?id=${key}` })).json()
}

/** Sends a raw request head on a fresh connection and reads until the balancer closes it. */
async function rawExchange (base: string, head: string): Promise<string> {
  const { port } = new URL(base)
  const socket = connect(Number(port), '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.write(head)
  await once(socket, 'close')
  return Buffer.concat(chunks).toString()
}

const KEYS = Array.from({ length: 50 }, (_, i) => 100_000 + i * 17_389)

for (const fastPath of ['true', 'false']) {
  t.test(`a WebSocket sticks to /map_request's replica for 50 keys (LB_FAST_PATH=${fastPath})`, async t => {
    const { app, base } = await listening(t, { LB_FAST_PATH: fastPath })
    const clients: EchoClient[] = []
    t.teardown(() => { for (const c of clients) c.socket.terminate() })
    const reached = new Map<string, number>()
    for (const key of KEYS) {
      const client = await openEcho(base, key)
      clients.push(client)
      const owner = await mapped(app, key)
      t.equal(client.replica, owner.hostname, `key ${key}: the balancer names /map_request's replica`)
      t.equal(client.serverId, String(owner.mapped_server), `key ${key}: the replica itself is that one`)
      t.equal(await client.echo(`message for ${key}`), `message for ${key}`)
      reached.set(owner.hostname, (reached.get(owner.hostname) ?? 0) + 1)
    }
    t.equal(reached.size, 3, 'the keys spread over the three replicas')
    const stats = (await app.inject('/stats')).json()
    t.equal(stats.totals.tunnels_open, 50, '/stats counts them open')
    t.ok(stats.totals.tunnel_bytes_to_replica > 0 && stats.totals.tunnel_bytes_to_client > 0, 'and the bytes each way')
    const metrics = (await app.inject('/metrics')).body
    t.match(metrics, /ringlb_tunnels_open\{replica="server-\d"\} \d+/)
    t.match(metrics, /ringlb_tunnel_bytes_total\{replica="server-\d",direction="to_client"\} [1-9]/)
    const inFlight = stats.replicas.reduce((sum: number, r: { in_flight: number }) => sum + r.in_flight, 0)
    t.equal(inFlight, 50, 'open tunnels count as in flight')
  })
}

t.test('a tunnel survives the /rm of another replica and is closed (1012) after the /rm of its own', async t => {
  // ketama: removing a replica moves no key between the others
  const { app, base } = await listening(t, { LB_HASH: 'ring', LB_MOVED_TUNNEL_GRACE_MS: '200', LB_DRAIN_MS: '15000' })
  const client = await openEcho(base, 4242)
  t.teardown(() => { client.socket.terminate() })
  const other = ['server-0', 'server-1', 'server-2'].find(h => h !== client.replica) as string
  const removed = await app.inject({ method: 'DELETE', url: '/rm', payload: { n: 1, hostnames: [other] } })
  t.equal(removed.statusCode, 200)
  t.equal((await mapped(app, 4242)).hostname, client.replica, 'its key did not move')
  await sleep(400)
  t.equal(await client.echo('still here'), 'still here', 'the tunnel survives the other replica\'s removal')

  const started = Date.now()
  const own = await app.inject({ method: 'DELETE', url: '/rm', payload: { n: 1, hostnames: [client.replica] } })
  t.equal(own.statusCode, 200)
  const closed = await client.closed
  t.same(closed, { code: 1012, reason: 'key moved to another replica: reconnect' }, 'its key moved: closed with a close frame')
  t.ok(Date.now() - started < 10_000, 'after the grace period, not the whole drain (15 s)')
  const stats = (await app.inject('/stats')).json()
  t.equal(stats.totals.tunnels_moved, 1)
  t.equal(stats.totals.tunnels_open, 0)
})

t.test('with moved-tunnel closing off, /rm of its replica drains the tunnel and closes it (1001) when LB_DRAIN_MS ends', async t => {
  const { app, base } = await listening(t, { LB_CLOSE_MOVED_TUNNELS: 'false', LB_DRAIN_MS: '1500' })
  const client = await openEcho(base, 777)
  t.teardown(() => { client.socket.terminate() })
  const started = Date.now()
  const removing = app.inject({ method: 'DELETE', url: '/rm', payload: { n: 1, hostnames: [client.replica] } })
  await sleep(500)
  t.equal(await client.echo('draining'), 'draining', 'still open while the replica drains')
  const closed = await client.closed
  t.same(closed, { code: 1001, reason: 'replica removed' })
  t.equal((await removing).statusCode, 200)
  const took = Date.now() - started
  t.ok(took >= 1000 && took < 5000, `/rm waited for the tunnel, about LB_DRAIN_MS (${took} ms)`)
  t.equal((await app.inject('/stats')).json().totals.tunnels_moved, 0)
})

t.test('after /add, exactly the tunnels whose key moved are closed, and their clients reconnect to the new owner', async t => {
  const { app, base } = await listening(t, { LB_MOVED_TUNNEL_GRACE_MS: '300' })
  const keys = Array.from({ length: 60 }, (_, i) => 200_000 + i * 7919)
  const clients = new Map<number, EchoClient>()
  t.teardown(() => { for (const c of clients.values()) c.socket.terminate() })
  for (const key of keys) clients.set(key, await openEcho(base, key))
  const codes = new Map<number, number>()
  for (const [key, client] of clients) void client.closed.then(({ code }) => { codes.set(key, code) })

  t.equal((await app.inject({ method: 'POST', url: '/add', payload: { n: 1 } })).statusCode, 200)
  const owners = new Map<number, string>()
  for (const key of keys) owners.set(key, (await mapped(app, key)).hostname)
  const moved = keys.filter(key => owners.get(key) !== clients.get(key)?.replica)
  await until('the moved tunnels closed', () => codes.size >= moved.length, 10_000)
  await sleep(300)
  t.same([...codes.keys()].sort(), moved.sort(), 'the closed tunnels are exactly the moved ones')
  t.ok([...codes.values()].every(code => code === 1012), 'each with 1012 Service Restart')
  for (const key of keys.filter(k => !moved.includes(k))) {
    t.equal(await clients.get(key)?.echo(`${key}`), `${key}`, `key ${key} did not move: its tunnel is untouched`)
  }
  let reconnected = 0
  for (const key of moved) {
    const again = await openEcho(base, key)
    clients.set(key, again)
    t.equal(again.replica, owners.get(key), `key ${key} reconnects to its new owner`)
    if (again.replica === owners.get(key) && await again.echo('back') === 'back') reconnected++
  }
  t.ok(moved.length > 0, 'the new replica took some keys')
  t.equal(reconnected, moved.length)
  t.comment(`tunnels open ${keys.length}, moved ${moved.length}, closed ${codes.size}, reconnected ${reconnected}`)
  t.equal((await app.inject('/stats')).json().totals.tunnels_moved, moved.length)
})

t.test('shutdown closes open tunnels with 1001 Going Away', async t => {
  const { app, base } = await listening(t)
  const client = await openEcho(base, 99)
  t.teardown(() => { client.socket.terminate() })
  t.equal(await client.echo('before'), 'before')
  const closing = app.close()
  t.same(await client.closed, { code: 1001, reason: 'balancer shutting down' })
  await closing
})

t.test('under round-robin a key has no owner: /add closes no tunnel', async t => {
  const { app, base } = await listening(t, { LB_HASH: 'round-robin', LB_MOVED_TUNNEL_GRACE_MS: '100' })
  const clients = await Promise.all([1, 2, 3, 4, 5, 6].map(async key => await openEcho(base, key)))
  t.teardown(() => { for (const c of clients) c.socket.terminate() })
  t.equal(new Set(clients.map(c => c.replica)).size, 3, 'spread in turn')
  t.equal((await app.inject({ method: 'POST', url: '/add', payload: { n: 1 } })).statusCode, 200)
  await sleep(600)
  for (const client of clients) t.equal(await client.echo('kept'), 'kept')
  t.equal((await app.inject('/stats')).json().totals.tunnels_moved, 0)
})

t.test('an upgrade to a protocol LB_UPGRADE_PROTOCOLS does not list is refused with 400, and h2c alone is served as HTTP/1.1', async t => {
  const { base, driver } = await listening(t)
  const refused = await rawExchange(base, 'GET /echo?id=5 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: irc/6.9\r\n\r\n')
  t.match(refused, /^HTTP\/1\.1 400 /)
  t.match(refused, /\{"message":"<Error> upgrade to 'irc\/6\.9' is not allowed: LB_UPGRADE_PROTOCOLS lists websocket","status":"failure"\}/)
  t.equal(['server-0', 'server-1', 'server-2'].reduce((sum, h) => sum + driver.hits(h, '/echo'), 0), 0, 'no replica was asked')

  const plain = await rawExchange(base, 'GET /home?id=5 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n')
  t.match(plain, /^HTTP\/1\.1 200 /)
  t.match(plain, /"message":"Hello from Server: \d"/)
  const withBody = await rawExchange(base, 'POST /home?id=5 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabc')
  // Node leaves an upgrade request's body unread (it would be the new protocol's): Fastify finds it missing
  t.match(withBody, /^HTTP\/1\.1 400 /)
  t.match(withBody, /\{"message":"<Error> Request body size did not match Content-Length","status":"failure"\}/)
  t.equal(['server-0', 'server-1', 'server-2'].reduce((sum, h) => sum + driver.hits(h, '/home'), 0), 1, 'only the bodiless h2c request reached a replica')

  const { base: none } = await listening(t, { LB_UPGRADE_PROTOCOLS: '' })
  await t.rejects(openEcho(none, 5), /Unexpected server response: 400/, 'with none listed, a WebSocket is refused too')
})

t.test('a replica that refuses the connection is reported and the upgrade retried on the next replica', async t => {
  const { app, base, driver } = await listening(t)
  const owner = await mapped(app, 31337)
  await driver.kill(owner.hostname, { report: false })
  const client = await openEcho(base, 31337)
  t.teardown(() => { client.socket.terminate() })
  t.not(client.replica, owner.hostname, 'the next replica took it')
  t.equal(await client.echo('retried'), 'retried')
})
