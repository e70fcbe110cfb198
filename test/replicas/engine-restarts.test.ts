import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ReplicaManager } from '../../lib/replicas/manager.js'
import type { Replica } from '../../lib/replicas/replica.js'
import { ringDigest } from '../../lib/rings/digest.js'
import { type RingOptions, createRing } from '../../lib/rings/index.js'
import { FakeSwarm, FakeSwarmDriver } from '../support/fake-swarm.js'

const silent = { info: () => {}, warn: () => {}, error: () => {} }
const RING: RingOptions = { scheme: 'maglev', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 }

async function balancer (t: { teardown: (fn: () => unknown) => void }, engine: FakeSwarm, target = 3, heartbeat = { heartbeatMs: 60_000, heartbeatMisses: 1 }): Promise<ReplicaManager> {
  const manager = new ReplicaManager({
    driver: new FakeSwarmDriver(engine),
    ring: createRing<Replica>(RING),
    log: silent,
    target,
    maxReplicas: 20,
    heartbeatTimeoutMs: 500,
    readyTimeoutMs: 5000,
    drainMs: 100,
    ...heartbeat
  })
  t.teardown(async () => { await manager.close({ keepReplicas: true }) })
  await manager.start()
  return manager
}

const names = (manager: ReplicaManager): string[] => manager.healthy().map(r => `${r.id}:${r.hostname}`)

async function until (what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(10)
  }
}

t.test('a replica whose engine restarts it leaves the ring, is not replaced by the balancer, and comes back under its name and id at its new address', async t => {
  const engine = new FakeSwarm()
  t.teardown(async () => { await engine.close() })
  const manager = await balancer(t, engine)
  const before = manager.healthy().find(r => r.hostname === 'server-1') as Replica
  await engine.kill('server-1', 300)
  t.notOk(manager.ring.has('server-1'), 'out of the ring as soon as the engine reports the exit')
  await until('server-1 is back', () => manager.ring.has('server-1'))
  const after = manager.healthy().find(r => r.hostname === 'server-1') as Replica
  t.equal(after.id, before.id, 'same numeric id')
  t.not(after.url, before.url, 'at the task\'s new address')
  t.equal(after.restarts, 1, 'counted as a restart')
  t.equal(engine.creates, 3, 'the balancer created no replacement: the engine restarted it')
})

t.test('a replica that stops answering its heartbeat is taken out and put back when it answers again, without a replacement', async t => {
  const engine = new FakeSwarm()
  t.teardown(async () => { await engine.close() })
  const manager = await balancer(t, engine, 1)
  const replica = manager.healthy()[0]
  manager.reportFailure(replica.hostname)
  await engine.services.get(replica.hostname)?.app?.close()
  await until('out of the ring', () => manager.ring.size === 0)
  await engine.run(engine.services.get(replica.hostname) as never)
  // same hostname, maybe the same address: the recovery probe finds it, no listing needed
  for (const driver of engine.drivers) driver.watcher?.running({ id: replica.id, hostname: replica.hostname, url: engine.services.get(replica.hostname)?.url as string })
  await until('back in the ring', () => manager.ring.size === 1)
  t.equal(engine.creates, 1)
})

t.test('two balancers on one engine follow the same replicas: an /add or /rm on one is seen by the other, and their digests agree', async t => {
  const engine = new FakeSwarm()
  t.teardown(async () => { await engine.close() })
  const a = await balancer(t, engine)
  const b = await balancer(t, engine)
  t.same(names(b), names(a), 'the second balancer adopted the first one\'s replicas instead of starting its own')
  t.equal(engine.creates, 3)
  t.equal(ringDigest(a.ring, RING), ringDigest(b.ring, RING))
  const digestBefore = ringDigest(a.ring, RING)

  await a.add(1, ['extra'])
  await until('b sees extra', () => b.ring.has('extra'))
  t.same(names(b), names(a))
  t.equal(ringDigest(a.ring, RING), ringDigest(b.ring, RING), 'equal digests after the /add')
  t.not(ringDigest(a.ring, RING), digestBefore, 'and another digest than before it')

  await b.remove(1, ['extra'])
  await until('a lost extra', () => !a.ring.has('extra'))
  t.same(names(a), names(b))
  t.equal(ringDigest(a.ring, RING), digestBefore, 'back to the first digest')
})

t.test('two /adds at once on two balancers never give two replicas one hostname or one id', async t => {
  const engine = new FakeSwarm()
  t.teardown(async () => { await engine.close() })
  const a = await balancer(t, engine, 1)
  const b = await balancer(t, engine, 1)
  const [fromA, fromB] = await Promise.all([a.add(2), b.add(2)])
  const added = [...fromA, ...fromB]
  t.equal(added.length, 4)
  t.equal(new Set(added.map(r => r.hostname)).size, 4, `hostnames ${added.map(r => r.hostname).join(', ')}`)
  t.equal(new Set(added.map(r => r.id)).size, 4, `ids ${added.map(r => r.id).join(', ')}`)
  t.equal(engine.services.size, 5)
  await until('both see all five', () => a.ring.size === 5 && b.ring.size === 5)
  t.equal(ringDigest(a.ring, RING), ringDigest(b.ring, RING))
})

t.test('an /add naming a hostname another balancer already holds is a 409 and removes nothing of the other\'s', async t => {
  const engine = new FakeSwarm()
  t.teardown(async () => { await engine.close() })
  const a = await balancer(t, engine, 0)
  const b = await balancer(t, engine, 0)
  // b has not seen it yet: only the engine knows the name is taken
  b.driver.watch?.({ running: () => {}, removed: () => {} })
  await a.add(1, ['shared'])
  await t.rejects(b.add(1, ['shared']), { statusCode: 409, message: /already exists/ })
  t.ok(engine.services.get('shared')?.app !== undefined, 'a\'s replica still runs')
})

t.test('balancers starting together share the target instead of each reaching it', async t => {
  const engine = new FakeSwarm()
  t.teardown(async () => { await engine.close() })
  await Promise.all([balancer(t, engine, 3), balancer(t, engine, 3)])
  t.equal(engine.services.size, 3, [...engine.services.keys()].join(', '))
})

t.test('a replica whose heartbeat answers 503 (shutting down) leaves the ring at the first such answer, not after LB_HEARTBEAT_MISSES', async t => {
  const engine = new FakeSwarm()
  t.teardown(async () => { await engine.close() })
  const manager = await balancer(t, engine, 1, { heartbeatMs: 50, heartbeatMisses: 100 })
  engine.leaving.add('server-0')
  const started = Date.now()
  await until('out of the ring', () => manager.ring.size === 0, 2000)
  t.ok(Date.now() - started < 1000, `out after ${Date.now() - started} ms, with 100 misses allowed`)
})
