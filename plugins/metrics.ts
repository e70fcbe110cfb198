import fp from 'fastify-plugin'
import { ringOptions } from '../lib/config.js'
import { BalancerMetrics } from '../lib/metrics/metrics.js'
import { ringDigest } from '../lib/rings/digest.js'
import type { Workers } from '../lib/cluster/primary.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** counts per replica, latency, and the Prometheus registry of this balancer */
    metrics: BalancerMetrics
  }
}

export interface MetricsPluginOptions {
  /** a clustered balancer's workers, whose counts are added in when read */
  workers?: Workers
  /** in a cluster worker: its counts, which it reports to the primary (the replica set and the ring are the primary's to report) */
  metrics?: BalancerMetrics
}

/**
 * The balancer's metrics: proxied answers (counted by the proxy's lifecycle),
 * and respawns and missed heartbeats from the replica manager.
 */
export default fp<MetricsPluginOptions>(async (app, options) => {
  if (options.metrics !== undefined) {
    app.decorate('metrics', options.metrics)
    return
  }
  const { replicas, ring } = app
  const workers = options.workers
  const metrics = new BalancerMetrics({
    replicas: () => replicas.all(),
    ringSize: () => ring.size,
    shares: () => app.ringView().shares,
    digest: () => ringDigest(ring, ringOptions(app.config)),
    workers: workers === undefined ? undefined : async () => await workers.reports()
  })
  app.decorate('metrics', metrics)
  for (const replica of replicas.all()) metrics.track(replica.hostname)
  replicas.on('join', (replica) => { metrics.track(replica.hostname) })
  replicas.on('respawn', (replica) => { metrics.respawned(replica.hostname) })
  replicas.on('miss', (replica) => { metrics.missedHeartbeat(replica.hostname) })
}, { name: 'metrics', dependencies: ['ring', 'replicas'] })
