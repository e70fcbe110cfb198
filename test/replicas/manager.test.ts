import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { ReplicaManager } from '../../lib/replicas/manager.js'
import type { Replica } from '../../lib/replicas/replica.js'
import { createRing } from '../../lib/rings/index.js'
import { InProcessDriver } from '../support/in-process-driver.js'

const silent = { info: () => {}, warn: () => {}, error: () => {} }

interface Settings { target?: number, heartbeatMs?: number, heartbeatTimeoutMs?: number, heartbeatMisses?: number }

async function startManager (t: { teardown: (fn: () => unknown) => void }, settings: Settings = {}): Promise<{ manager: ReplicaManager, driver: InProcessDriver }> {
  const driver = new InProcessDriver()
  const manager = new ReplicaManager({
    driver,
    ring: createRing<Replica>({ scheme: 'maglev', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 }),
    log: silent,
    target: settings.target ?? 1,
    maxReplicas: 10,
    heartbeatMs: settings.heartbeatMs ?? 60_000,
    heartbeatTimeoutMs: settings.heartbeatTimeoutMs ?? 500,
    heartbeatMisses: settings.heartbeatMisses ?? 2,
    readyTimeoutMs: 5000,
    drainMs: 1000
  })
  t.teardown(async () => { await manager.close({ keepReplicas: false }) })
  await manager.start()
  return { manager, driver }
}

const creates = (driver: InProcessDriver, hostname: string): number[] =>
  driver.events.filter(e => e.type === 'create' && e.hostname === hostname).map(e => e.at)

t.test('a replica that keeps dying is restarted with growing delays, not in a hot loop', async t => {
  const { manager, driver } = await startManager(t)
  const kills: number[] = []
  const ids = new Set<number>()
  // every time server-0 enters the ring it dies at once: a crash loop
  manager.on('join', replica => {
    ids.add(replica.id)
    kills.push(Date.now())
    void driver.kill(replica.hostname, { report: true })
  })
  const first = manager.healthy()[0]
  ids.add(first.id)
  kills.push(Date.now())
  await driver.kill(first.hostname, { report: true })
  // four restarts take at least 0 + 0.5 + 1 + 2 s; a loaded machine may take longer, so wait for them
  const deadline = Date.now() + 30_000
  while (creates(driver, 'server-0').length < 5 && Date.now() < deadline) await sleep(50)
  await manager.close({ keepReplicas: false })

  const starts = creates(driver, 'server-0').slice(1)
  t.ok(starts.length >= 4, `restarted ${starts.length} times`)
  // the first restart is immediate, then 0.5 s, 1 s, 2 s after each crash: never a hot loop
  const expected = [0, 500, 1000, 2000]
  expected.forEach((delay, i) => {
    t.ok(starts[i] - kills[i] >= delay - 25, `restart ${i + 1} waited ${starts[i] - kills[i]} ms after its crash (backoff ${delay} ms)`)
  })
  t.same([...ids], [0], 'always the same numeric id')
})

t.test('a replica killed once is replaced at once under the same name and id', async t => {
  const { manager, driver } = await startManager(t, { target: 2 })
  const before = manager.healthy().find(r => r.hostname === 'server-1') as Replica
  const respawned = once(manager, 'respawn') as Promise<[Replica]>
  await driver.kill('server-1', { report: true })
  t.notOk(manager.ring.has('server-1'), 'out of the ring as soon as the driver reports the exit')
  const [fresh] = await respawned
  t.equal(fresh.hostname, 'server-1')
  t.equal(fresh.id, before.id)
  t.not(fresh.url, before.url, 'a new replica, not the old one')
  t.equal(fresh.restarts, 1)
  t.same(manager.healthy().map(r => r.hostname).sort(), ['server-0', 'server-1'])
})

/**
 * Kills server-0 (whose heartbeat probe hangs) and waits past that probe's
 * 800 ms timeout: the replacement must be the only one, and stay in the ring.
 */
async function killOutlivingItsProbe (t: Test, manager: ReplicaManager, driver: InProcessDriver): Promise<void> {
  const respawned = once(manager, 'respawn')
  await driver.kill('server-0', { report: true })
  await respawned
  await sleep(1200)
  t.equal(creates(driver, 'server-0').length, 2, 'replaced once, and the replacement kept')
  t.ok(manager.ring.has('server-0'), 'the replacement is in the ring')
}

t.test('a heartbeat answered late for a dead replica does not fail the replica that replaced it', async t => {
  const { manager, driver } = await startManager(t, { heartbeatTimeoutMs: 800 })
  driver.hang('server-0')
  // a proxied request failed: the health checker probes it, and the probe hangs until its timeout
  manager.reportFailure('server-0')
  await sleep(50)
  await killOutlivingItsProbe(t, manager, driver)
})

t.test('a heartbeat probe that times out after its replica was replaced does not count against the new one', async t => {
  const { manager, driver } = await startManager(t, { heartbeatMs: 100, heartbeatTimeoutMs: 800, heartbeatMisses: 1 })
  driver.hang('server-0')
  await sleep(150)
  await killOutlivingItsProbe(t, manager, driver)
})

t.test('a replica that stops answering leaves the ring after the configured misses and is replaced', async t => {
  const { manager, driver } = await startManager(t, { target: 2, heartbeatMs: 100, heartbeatTimeoutMs: 200, heartbeatMisses: 3 })
  let misses = 0
  manager.on('miss', replica => { if (replica.hostname === 'server-1') misses++ })
  const left = once(manager, 'leave') as Promise<[Replica, string]>
  driver.hang('server-1')
  const [replica, reason] = await left
  t.equal(replica.hostname, 'server-1')
  t.equal(misses, 3, 'out after exactly LB_HEARTBEAT_MISSES misses')
  t.match(reason, /missed 3 heartbeats/)
  await once(manager, 'respawn')
  t.ok(manager.ring.has('server-1'), 'replaced under the same name')
  t.equal(creates(driver, 'server-1').length, 2)
  t.same(driver.events.filter(e => e.type === 'remove').map(e => [e.hostname, e.force]), [['server-1', true]], 'the hung replica was killed, not asked to stop')
})
