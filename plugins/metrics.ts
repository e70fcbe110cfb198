import type { onResponseHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { BalancerMetrics } from '../lib/metrics/metrics.js'
import type { Workers } from '../lib/cluster/primary.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** counts per replica, latency, and the Prometheus registry of this balancer */
    metrics: BalancerMetrics
  }
}

/**
 * Counts every proxied request when its answer has left: the proxy names the
 * replica in the x-ringlb-replica header, so the proxy itself only reports
 * retries and answers that broke off midway (those never finish).
 */
export function countAnswers (metrics: BalancerMetrics): onResponseHookHandler {
  return (_request, reply, done) => {
    const replica = reply.getHeader('x-ringlb-replica')
    if (typeof replica === 'string') metrics.answered(replica, reply.statusCode, reply.elapsedTime / 1000)
    done()
  }
}

export interface MetricsPluginOptions {
  /** a clustered balancer's workers, whose counts are added in when read */
  workers?: Workers
}

/** The balancer's metrics: proxied answers, and respawns and missed heartbeats from the replica manager. */
export default fp<MetricsPluginOptions>(async (app, options) => {
  const { replicas, ring } = app
  const workers = options.workers
  const metrics = new BalancerMetrics({
    replicas: () => replicas.all(),
    ringSize: () => ring.size,
    shares: () => app.ringView().shares,
    workers: workers === undefined ? undefined : async () => await workers.reports()
  })
  app.decorate('metrics', metrics)
  for (const replica of replicas.all()) metrics.track(replica.hostname)
  replicas.on('join', (replica) => { metrics.track(replica.hostname) })
  replicas.on('respawn', (replica) => { metrics.respawned(replica.hostname) })
  replicas.on('miss', (replica) => { metrics.missedHeartbeat(replica.hostname) })
  app.addHook('onResponse', countAnswers(metrics))
}, { name: 'metrics', dependencies: ['ring', 'replicas', 'ring-view'] })
