import fp from 'fastify-plugin'
import type { Workers } from '../lib/cluster/primary.js'
import type { RingMirror } from '../lib/cluster/ring-mirror.js'
import { type Driver, createDriver } from '../lib/replicas/drivers/index.js'
import { ReplicaManager } from '../lib/replicas/manager.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the replica set: add, remove, list, health, respawn */
    replicas: ReplicaManager
  }
}

export interface ReplicasPluginOptions {
  /** a driver to use instead of the one LB_DRIVER names (tests) */
  driver?: Driver
  /** a clustered balancer's workers: they route on copies of this ring, and drains wait for their requests too */
  workers?: Workers
  /** in a cluster worker: the primary runs the replicas, and this copy of its ring is the replica set the worker proxies to */
  mirror?: RingMirror
}

/**
 * The container manager. Starts the replica set before the balancer listens:
 * adopts the driver's own running replicas, tops up to LB_REPLICAS, then
 * watches them. On close, process replicas are stopped and container replicas
 * are kept for the next balancer to adopt. The proxy sees it as its backends.
 */
export default fp<ReplicasPluginOptions>(async (app, options) => {
  const { config } = app
  const { workers, mirror } = options
  if (mirror !== undefined) {
    app.decorate('backends', mirror)
    return
  }
  const driver = options.driver ?? createDriver(config)
  const manager = new ReplicaManager({
    driver,
    ring: app.ring,
    log: app.log.child({ component: 'replicas' }),
    target: config.LB_REPLICAS,
    maxReplicas: config.LB_MAX_REPLICAS,
    heartbeatMs: config.LB_HEARTBEAT_MS,
    heartbeatTimeoutMs: config.LB_HEARTBEAT_TIMEOUT_MS,
    heartbeatMisses: config.LB_HEARTBEAT_MISSES,
    healthPath: config.LB_HEALTH_PATH,
    readyTimeoutMs: config.LB_READY_TIMEOUT_MS,
    drainMs: config.LB_DRAIN_MS,
    busyElsewhere: workers === undefined ? undefined : (hostname) => workers.busy(hostname)
  })
  workers?.follow(manager)
  app.decorate('replicas', manager)
  app.decorate('backends', manager)
  app.addHook('onClose', async () => {
    await manager.close({ keepReplicas: driver.name === 'docker' })
  })
  await manager.start()
}, { name: 'replicas', dependencies: ['config', 'ring'] })
