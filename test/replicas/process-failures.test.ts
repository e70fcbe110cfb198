import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ProcessDriver } from '../../lib/replicas/drivers/process.js'
import { pidRunning } from '../../scripts/chaos/victims.js'
import { build } from '../helper.js'

type App = Awaited<ReturnType<typeof build>>

/** The replica set as /rep shows it, polled until `done` holds (bounded by the tap timeout). */
async function waitForRep (app: App, done: (rep: { N: number, replicas: string[] }) => boolean): Promise<{ N: number, replicas: string[] }> {
  for (;;) {
    const rep = (await app.inject('/rep')).json()
    if (done(rep)) return rep
    await sleep(10)
  }
}

/** A replica's PID, as the process driver recorded it. */
function pidOf (driver: ProcessDriver, hostname: string): number {
  const pid = driver.pid(hostname)
  if (pid === undefined) throw new Error(`no process for ${hostname}`)
  return pid
}

/** The app on a process driver the test holds, to read its replicas' PIDs. */
async function buildWithDriver (t: Parameters<typeof build>[0], env: Record<string, string>): Promise<{ app: App, driver: ProcessDriver }> {
  const driver = new ProcessDriver({ host: '127.0.0.1', startTimeoutMs: 30_000 })
  const app = await build(t, env, { driver })
  return { app, driver }
}

t.test('a replica process killed with SIGKILL leaves the ring at once and is replaced by a new process', async t => {
  const { app, driver } = await buildWithDriver(t, { LB_HEARTBEAT_MS: '60000' })
  const old = pidOf(driver, 'server-1')
  process.kill(old, 'SIGKILL')
  // the heartbeat is a minute away: the child's exit is what takes it out
  await waitForRep(app, rep => !rep.replicas.includes('server-1'))
  const rep = await waitForRep(app, rep => rep.N === 3)
  t.same(rep.replicas, ['server-0', 'server-1', 'server-2'], 'back to three, under the same name')
  const fresh = pidOf(driver, 'server-1')
  t.not(fresh, old, 'a new process')
  t.notOk(pidRunning(old), 'the old one is gone')
  const res = await app.inject('/map_request?id=1')
  t.equal(res.statusCode, 200)
})

t.test('a replica process stopped with SIGSTOP leaves the ring after LB_HEARTBEAT_MISSES misses and is replaced', async t => {
  const { app, driver } = await buildWithDriver(t, { LB_HEARTBEAT_MS: '200', LB_HEARTBEAT_TIMEOUT_MS: '300', LB_HEARTBEAT_MISSES: '3' })
  const stopped = pidOf(driver, 'server-2')
  process.kill(stopped, 'SIGSTOP')
  t.teardown(() => { if (pidRunning(stopped)) process.kill(stopped, 'SIGKILL') })
  const stoppedAt = Date.now()
  await waitForRep(app, rep => !rep.replicas.includes('server-2'))
  const outAfter = Date.now() - stoppedAt
  // each miss is a heartbeat that waited out its 300 ms timeout, one after another
  t.ok(outAfter >= 3 * 300, `out after ${outAfter} ms: not before the third missed heartbeat`)
  const rep = await waitForRep(app, rep => rep.N === 3)
  t.same(rep.replicas, ['server-0', 'server-1', 'server-2'])
  t.not(pidOf(driver, 'server-2'), stopped, 'a new process')
  t.notOk(pidRunning(stopped), 'the stopped process was killed, not left behind')
})
