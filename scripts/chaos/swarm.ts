import { execFile } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { LABELS } from '../../lib/replicas/drivers/docker.js'
import { TASK_INSTANCE_LABEL } from '../../lib/replicas/drivers/swarm.js'
import { randomIdLoad } from '../lib/load.js'
import { type SwarmBalancer, type SwarmCluster, taskNodes, until } from '../lib/swarm-cluster.js'

const run = promisify(execFile)

export interface SwarmChaosOptions {
  /** replicas the balancer keeps */
  replicas: number
  connections: number
  /** seconds of load */
  duration: number
  /** seconds into the load: the task kill, then the node loss */
  killAt: number
  loseNodeAt: number
  log?: (line: string) => void
}

export interface SwarmChaosReport {
  /** the replica whose task was killed on node 2 */
  victim: string
  /** from the kill to the replica out of /rep, and back in it */
  killOutMs: number
  killBackMs: number
  /** how long node 2's engine took to stop (its tasks' lame-duck time included) */
  nodeStopMs: number
  /** from the node loss to every replica in the ring on node 1, N back to target */
  nodeConvergedMs: number
  sent: number
  failed: number
  /** the first failures, with when they happened */
  failures: string[]
}

async function replicaSet (balancer: SwarmBalancer): Promise<{ N: number, replicas: string[] }> {
  const res = await fetch(`${balancer.url}/rep`, { signal: AbortSignal.timeout(5000) })
  return await res.json() as { N: number, replicas: string[] }
}

/**
 * Bounded autocannon load on a balancer of a two-node swarm while a task on
 * node 2 is `docker kill`ed and then node 2's whole engine is stopped (a node
 * lost): how soon the ring reflects each, and how many GETs failed.
 */
export async function swarmChaos (cluster: SwarmCluster, balancer: SwarmBalancer, options: SwarmChaosOptions): Promise<SwarmChaosReport> {
  const log = options.log ?? (() => {})
  const failures: string[] = []
  const started = Date.now()
  const at = (): string => `${((Date.now() - started) / 1000).toFixed(2)} s`
  const { instance, result: load } = randomIdLoad(balancer.url, options)
  /** answers in each second of the load: a stall shows as a gap */
  const perSecond: number[] = []
  instance.on('response', (_client, status) => {
    const second = Math.floor((Date.now() - started) / 1000)
    perSecond[second] = (perSecond[second] ?? 0) + 1
    if (status >= 300 && failures.length < 20) failures.push(`${status} at ${at()}`)
  })
  instance.on('reqError', (err: Error) => { if (failures.length < 20) failures.push(`${err.message} at ${at()}`) })

  await sleep(options.killAt * 1000)
  const onNode2 = [...await taskNodes(cluster)].filter(([, node]) => node === cluster.node2Hostname).map(([hostname]) => hostname)
  const victim = onNode2[0]
  if (victim === undefined) throw new Error('no task runs on node 2')
  const [container] = await cluster.node2.listContainers({ filters: { label: [`${LABELS.hostname}=${victim}`, `${TASK_INSTANCE_LABEL}=${cluster.instance}`] } })
  const killedAt = Date.now()
  await run('docker', ['-H', `unix://${cluster.node2Socket}`, 'kill', container.Id])
  const killOutMs = await until(`${victim} out of the ring`, async () => !(await replicaSet(balancer)).replicas.includes(victim), 10_000)
  await until(`${victim} back in the ring`, async () => (await replicaSet(balancer)).replicas.includes(victim), 30_000)
  const killBackMs = Date.now() - killedAt
  log(`task kill (${victim} on node 2) at ${((killedAt - started) / 1000).toFixed(1)} s: out of the ring after ${killOutMs} ms, back after ${killBackMs} ms`)

  await sleep(Math.max(0, started + options.loseNodeAt * 1000 - Date.now()))
  const lostAt = Date.now()
  await cluster.stopNode2()
  const nodeStopMs = Date.now() - lostAt
  const nodeConvergedMs = await until('every replica in the ring, on node 1', async () => {
    const [set, placed] = await Promise.all([replicaSet(balancer), taskNodes(cluster)])
    return set.N === options.replicas && placed.size === options.replicas && [...placed.values()].every(node => node !== cluster.node2Hostname)
  }, 90_000) + nodeStopMs
  log(`node 2 lost at ${((lostAt - started) / 1000).toFixed(1)} s (its engine stopped in ${(nodeStopMs / 1000).toFixed(1)} s): ring converged, N back to ${options.replicas}, after ${(nodeConvergedMs / 1000).toFixed(1)} s`)

  const result = await load
  const failed = result.errors + result.non2xx
  log(`answers per second: ${Array.from(perSecond, n => n ?? 0).join(' ')}`)
  log(`requests: ${result.requests.sent} sent, ${failed} failed (${result.timeouts} timeouts, ${result.non2xx} non-2xx)${failures.length > 0 ? `: ${failures.slice(0, 5).join('; ')}` : ''}`)
  return { victim, killOutMs, killBackMs, nodeStopMs, nodeConvergedMs, sent: result.requests.sent, failed, failures }
}
