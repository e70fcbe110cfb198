import fp from 'fastify-plugin'
import { BalancerMetrics } from '../lib/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** counts per replica, latency, and the Prometheus registry of this balancer */
    metrics: BalancerMetrics
  }
}

/**
 * Counts every proxied request when its answer has left: the proxy names the
 * replica in the x-ringlb-replica header, so the proxy itself only reports
 * retries and answers that broke off midway (those never finish). Respawns
 * and missed heartbeats come from the replica manager.
 */
export default fp(async (app) => {
  const { replicas, ring } = app
  const metrics = new BalancerMetrics({
    replicas: () => replicas.all(),
    ringSize: () => ring.size,
    shares: () => app.ringView().shares
  })
  app.decorate('metrics', metrics)
  for (const replica of replicas.all()) metrics.track(replica.hostname)
  replicas.on('join', (replica) => { metrics.track(replica.hostname) })
  replicas.on('respawn', (replica) => { metrics.respawned(replica.hostname) })
  replicas.on('miss', (replica) => { metrics.missedHeartbeat(replica.hostname) })

  app.addHook('onResponse', (_request, reply, done) => {
    const replica = reply.getHeader('x-ringlb-replica')
    if (typeof replica === 'string') metrics.answered(replica, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}, { name: 'metrics', dependencies: ['ring', 'replicas', 'ring-view'] })
