import { once } from 'node:events'
import { type AddressInfo, type Socket, connect, createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Tunnel } from '../../lib/proxy/tunnel.js'
import { Tunnels } from '../../lib/proxy/tunnels.js'
import { upgradeDecision } from '../../lib/proxy/upgrade.js'
import { until } from '../helper.js'

t.test('an upgrade is tunnelled when listed, served plainly when it asks only for h2c, and refused otherwise', async t => {
  t.same(upgradeDecision('websocket', ['websocket']), { action: 'tunnel', protocol: 'websocket' })
  t.same(upgradeDecision('WebSocket', ['websocket']), { action: 'tunnel', protocol: 'websocket' }, 'names are matched without case')
  t.same(upgradeDecision('foo/2, websocket', ['websocket', 'foo']), { action: 'tunnel', protocol: 'foo' }, 'the client\'s first listed choice, less its version')
  t.same(upgradeDecision('h2c', ['websocket']), { action: 'ignore' })
  t.same(upgradeDecision('h2c, websocket', ['websocket']), { action: 'tunnel', protocol: 'websocket' })
  t.same(upgradeDecision('irc/6.9', ['websocket']), { action: 'refuse', reason: 'upgrade to \'irc/6.9\' is not allowed: LB_UPGRADE_PROTOCOLS lists websocket' })
  t.same(upgradeDecision('websocket', []), { action: 'refuse', reason: 'upgrade to \'websocket\' is not allowed: LB_UPGRADE_PROTOCOLS lists none' })
  t.equal(upgradeDecision('', ['websocket']).action, 'refuse')
})

/** Two connected TCP sockets on loopback. */
async function socketPair (t: { teardown: (fn: () => void) => void }): Promise<[Socket, Socket]> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection')
  const near = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const [far] = await accepted as [Socket]
  await once(near, 'connect')
  server.close()
  t.teardown(() => { near.destroy(); far.destroy() })
  return [near, far]
}

/** Everything `socket` reads until it ends. */
async function readAll (socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  await once(socket, 'end')
  return Buffer.concat(chunks)
}

t.test('a tunnel relays bytes both ways, counts them, and closes a WebSocket between two frames', async t => {
  // client ⇄ [clientSide | tunnel | upstreamSide] ⇄ replica
  const [client, clientSide] = await socketPair(t)
  const [upstreamSide, replica] = await socketPair(t)
  const counted = { toReplica: 0, toClient: 0 }
  const tunnel = new Tunnel(clientSide, upstreamSide, {
    key: 1, replica: 'server-0', owner: 'server-0', websocket: true,
    toReplica: n => { counted.toReplica += n },
    toClient: n => { counted.toClient += n }
  })
  const atReplica = readAll(replica)
  const atClient = readAll(client)
  // a masked 5-byte text frame from the client, whole
  client.write(Buffer.from([0x81, 0x85, 0, 0, 0, 0, ...Buffer.from('hello')]))
  // from the replica, a 10-byte frame of which only 4 payload bytes have come when the tunnel is closed
  replica.write(Buffer.from([0x82, 10, 1, 2, 3, 4]))
  await sleep(100)
  tunnel.close(1012, 'moved')
  await sleep(50)
  replica.write(Buffer.from([5, 6, 7, 8, 9, 10, 0x81, 1, 0x41]))
  // the replica answers the close; the client's close answer is dropped
  replica.end()
  client.end()
  const [toReplica, toClient] = await Promise.all([atReplica, atClient])
  await tunnel.closed
  t.same([...toClient.subarray(0, 12)], [0x82, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'the frame under way reached the client whole')
  t.same([...toClient.subarray(12, 14)], [0x88, 2 + 'moved'.length], 'then an unmasked close frame')
  t.equal(toClient.readUInt16BE(14), 1012)
  t.equal(toClient.subarray(16).toString(), 'moved', 'and nothing after it: the next frame is not passed on')
  t.equal(toReplica.subarray(0, 11).toString('hex'), Buffer.from([0x81, 0x85, 0, 0, 0, 0, ...Buffer.from('hello')]).toString('hex'))
  t.equal(toReplica[11], 0x88, 'a close frame to the replica')
  t.equal(toReplica[12], 0x80 | 7, 'masked, as a client\'s')
  t.same(counted, { toReplica: 11, toClient: 12 }, 'the relayed bytes, less the close frames')
})

t.test('when either side closes, the tunnel ends and the other side is closed', async t => {
  const [client, clientSide] = await socketPair(t)
  const [upstreamSide, replica] = await socketPair(t)
  const tunnel = new Tunnel(clientSide, upstreamSide, { key: 1, replica: 'r', owner: 'r', websocket: false, toReplica: () => {}, toClient: () => {} })
  const atClient = readAll(client)
  replica.end('bye')
  t.equal((await atClient).toString(), 'bye')
  client.end()
  await tunnel.closed
  t.ok(clientSide.destroyed && upstreamSide.destroyed)
})

/** A tunnel as the registry sees it: key, replica, owner, close() and closed. */
function fakeTunnel (key: number, replica: string): Tunnel & { closes: Array<[number, string]> } {
  let done = (): void => {}
  const closes: Array<[number, string]> = []
  return {
    key,
    replica,
    owner: replica,
    movedSince: undefined,
    closes,
    closed: new Promise<void>(resolve => { done = resolve }),
    close (code: number, reason: string) { closes.push([code, reason]); done() }
  } as unknown as Tunnel & { closes: Array<[number, string]> }
}

t.test('after a ring change, only tunnels whose key moved are closed, with 1012, after the grace period', async t => {
  const owners = new Map([[1, 'a'], [2, 'b'], [3, 'a']])
  const moved: number[] = []
  const closed: number[] = []
  const tunnels = new Tunnels({
    owner: key => owners.get(key),
    closeMoved: true,
    graceMs: 1500,
    drainMs: 60_000,
    onClosed: (tunnel, wasMoved) => { (wasMoved ? moved : closed).push(tunnel.key) }
  })
  const [one, two, three] = [fakeTunnel(1, 'a'), fakeTunnel(2, 'b'), fakeTunnel(3, 'a')]
  for (const tunnel of [one, two, three]) tunnels.add(tunnel)
  const changed = Date.now()
  owners.set(1, 'c')
  owners.set(3, 'c')
  tunnels.ringChanged()
  await sleep(100)
  // key 3 maps back before its grace period ends: its tunnel stays
  owners.set(3, 'a')
  tunnels.ringChanged()
  if (Date.now() - changed < 1500) t.same(moved, [], 'not within the grace period')
  await until('the moved tunnel closed', () => moved.length > 0, 10_000)
  t.ok(Date.now() - changed >= 1500, 'after the grace period')
  t.same(moved, [1])
  t.same(one.closes, [[1012, 'key moved to another replica: reconnect']])
  t.same(two.closes, [])
  t.same(three.closes, [], 'the key that mapped back keeps its tunnel')
  t.equal(tunnels.size, 2)
  tunnels.closeAll()
  t.same(two.closes, [[1001, 'balancer shutting down']])
  await sleep(0)
  t.same(closed.sort(), [2, 3], 'the others are counted closed, not moved')
  t.same(moved, [1])
})

t.test('a moved tunnel not yet due when its timer fires (a timer may fire a millisecond early by Date.now) is closed when it is due', async t => {
  const owners = new Map([[1, 'a']])
  const moved: number[] = []
  const tunnels = new Tunnels({ owner: key => owners.get(key), closeMoved: true, graceMs: 200, drainMs: 60_000, onClosed: (tunnel, wasMoved) => { if (wasMoved) moved.push(tunnel.key) } })
  t.teardown(() => { tunnels.closeAll() })
  const one = fakeTunnel(1, 'a')
  tunnels.add(one)
  owners.set(1, 'b')
  tunnels.ringChanged()
  // as if the clock read 100 ms later when the key moved: the grace timer finds the tunnel 100 ms short of due
  one.movedSince = (one.movedSince as number) + 100
  await until('the moved tunnel closed', () => moved.length > 0, 3_000)
  t.same(one.closes, [[1012, 'key moved to another replica: reconnect']])
})

t.test('with moved-tunnel closing off, a ring change closes nothing, and a leaving replica\'s tunnels go with 1001 as its drain ends', async t => {
  const owners = new Map([[1, 'a'], [2, 'b']])
  const tunnels = new Tunnels({ owner: key => owners.get(key), closeMoved: false, graceMs: 0, drainMs: 300, onClosed: (_tunnel, moved) => { t.notOk(moved, 'none moved') } })
  const [one, two] = [fakeTunnel(1, 'a'), fakeTunnel(2, 'b')]
  tunnels.add(one)
  tunnels.add(two)
  owners.set(1, 'b')
  tunnels.replicaLeft('a')
  const left = Date.now()
  await sleep(20)
  if (Date.now() - left < 300 - 250) t.same(one.closes, [], 'still open while the drain lasts')
  await until('the drained tunnel closed', () => one.closes.length > 0, 10_000)
  t.same(one.closes, [[1001, 'replica removed']])
  t.same(two.closes, [])
})

t.test('a client that reads nothing holds the replica back: the tunnel buffers little, and all bytes arrive once it reads', async t => {
  const [client, clientSide] = await socketPair(t)
  const [upstreamSide, replica] = await socketPair(t)
  let relayed = 0
  const tunnel = new Tunnel(clientSide, upstreamSide, { key: 1, replica: 'r', owner: 'r', websocket: false, toReplica: () => {}, toClient: n => { relayed += n } })
  client.pause()
  const total = 64 << 20
  const chunk = Buffer.alloc(64 << 10, 1)
  let written = 0
  // the replica writes as fast as its socket takes it, for at most 2 s
  const deadline = Date.now() + 2000
  while (written < total && Date.now() < deadline) {
    written += chunk.length
    if (!replica.write(chunk)) await Promise.race([once(replica, 'drain'), sleep(200)])
  }
  t.ok(upstreamSide.isPaused(), 'the replica\'s side is paused while the client\'s cannot take more')
  t.ok(relayed < written, `the tunnel relayed ${relayed >> 20} MiB of the ${written >> 20} MiB written`)
  let received = 0
  client.on('data', (data: Buffer) => { received += data.length })
  client.resume()
  replica.end()
  await once(client, 'end')
  t.equal(received, written, 'every byte arrives once the client reads')
  client.end()
  await tunnel.closed
})
