import { startBalancer, startSwarmCluster } from '../lib/swarm-cluster.js'
import { swarmChaos } from './swarm.js'

export interface SwarmRunOptions {
  /** the image of the balancer and its replicas, loaded on node 2 and given to Swarm by ID */
  image: string
  replicas: number
  connections: number
  duration: number
  log: (line: string) => void
}

/**
 * `npm run chaos -- --driver swarm`: builds a two-node swarm on this machine,
 * runs a balancer on it, kills a task on node 2 and then loses node 2 under
 * load, prints the timings, and removes everything. True when no GET failed
 * and the replicas were back to target.
 */
export async function runSwarmChaos (options: SwarmRunOptions): Promise<boolean> {
  const { log } = options
  const cluster = await startSwarmCluster(options.image, log)
  try {
    const balancer = await startBalancer(cluster, 'chaos', options.replicas)
    log(`ringlb chaos: swarm driver, ${options.replicas} replicas on 2 nodes, ${options.connections} connections for ${options.duration} s, on ${balancer.url}`)
    const report = await swarmChaos(cluster, balancer, {
      replicas: options.replicas,
      connections: options.connections,
      duration: options.duration,
      killAt: 3,
      loseNodeAt: Math.max(12, options.duration / 3),
      log
    })
    const ok = report.failed === 0
    log(ok ? `PASS: 0 failed GETs of ${report.sent}` : `FAIL: ${report.failed} of ${report.sent} GETs failed`)
    if (!ok) {
      const logs = (await balancer.container.logs({ stdout: true, stderr: true, tail: 400 })).toString('utf8')
      log('the balancer\'s warnings:')
      for (const line of logs.split('\n').filter(l => /"level":[456]0/.test(l)).slice(-20)) log(`  ${line.slice(line.indexOf('{'), 300)}`)
    }
    return ok
  } catch (err) {
    log(`FAIL: ${(err as Error).message}`)
    return false
  } finally {
    await cluster.teardown()
    log('the swarm, its second engine, namespace and network are removed')
  }
}
