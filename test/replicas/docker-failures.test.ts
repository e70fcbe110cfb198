import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { DockerDriver } from '../../lib/replicas/drivers/docker.js'
import { docker, dockerCli, dockerSkipReason, removeRun, testRun } from '../docker-engine.js'
import { build } from '../helper.js'

/*
 * Failure detection with the docker driver when the engine reports no death:
 * a frozen container (docker pause) only fails its heartbeats.
 */

const skip = await dockerSkipReason()

t.test('a frozen container leaves the ring after LB_HEARTBEAT_MISSES misses and is replaced by a new one', { skip }, async t => {
  const run = testRun()
  t.teardown(async () => await removeRun(run))
  const app = await build(t, { ...run.env, LB_REPLICAS: '2', LB_HEARTBEAT_MS: '200', LB_HEARTBEAT_TIMEOUT_MS: '300', LB_HEARTBEAT_MISSES: '3' })
  const driver = app.replicas.driver as DockerDriver
  const frozen = driver.containerId('server-1')
  if (frozen === undefined) throw new Error('no container for server-1')

  const misses: string[] = []
  app.replicas.on('miss', replica => { misses.push(replica.hostname) })
  const left = new Promise<string>(resolve => { app.replicas.on('leave', (replica, reason) => { if (replica.hostname === 'server-1') resolve(reason) }) })
  await dockerCli('pause', frozen)
  t.match(await left, /missed 3 heartbeats/, 'out after the configured misses')
  t.same(misses, ['server-1', 'server-1', 'server-1'])

  while (!(app.ring.has('server-1') && driver.containerId('server-1') !== frozen)) await sleep(50)
  const fresh = await docker.getContainer(driver.containerId('server-1') as string).inspect()
  t.equal(fresh.State.Running, true, 'a new container runs')
  t.same((await app.inject('/rep')).json(), { N: 2, replicas: ['server-0', 'server-1'] })
  const gone = await docker.getContainer(frozen).inspect().then(() => false, (err: { statusCode?: number }) => err.statusCode === 404)
  t.ok(gone, 'the frozen container was removed')
})
