import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ringOptions } from '../lib/config.js'
import type { ReplicaCounts } from '../lib/metrics/counts.js'
import { ringDigest } from '../lib/rings/digest.js'
import { RingLayout, Stats } from './schemas.js'

const countsBody = (c: ReplicaCounts) => ({
  requests: c.requests,
  errors: c.errors,
  retries: c.retries,
  respawns: c.respawns,
  heartbeat_failures: c.heartbeatFailures,
  tunnels_open: c.tunnelsOpened - c.tunnelsClosed,
  tunnels_moved: c.tunnelsMoved,
  tunnel_bytes_to_replica: c.tunnelBytesToReplica,
  tunnel_bytes_to_client: c.tunnelBytesToClient
})

/** Read-only views for operators: Prometheus metrics, the same counts as JSON, and the ring's layout. */
const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { metrics, replicas, ring } = app
  const digest = (): string => ringDigest(ring, ringOptions(app.config))

  app.get('/metrics', {
    schema: {
      tags: ['observability'],
      summary: 'Metrics in the Prometheus text format',
      produces: ['text/plain'],
      response: { 200: { type: 'string', description: 'text/plain; version=0.0.4' } }
    }
  }, async (_request, reply) => await reply.type(metrics.registry.contentType).send(await metrics.render()))

  app.get('/stats', {
    schema: { tags: ['observability'], summary: 'Per-replica state, share of the key space and request counts', response: { 200: Stats } }
  }, async () => {
    const { shares } = app.ringView()
    const tally = await metrics.tally()
    return {
      time: Date.now(),
      scheme: ring.scheme,
      ring_size: ring.size,
      replicas: replicas.all().map(r => ({
        hostname: r.hostname,
        id: r.id,
        state: r.state,
        share: shares.get(r.hostname) ?? 0,
        in_flight: replicas.load.get(r.hostname) + tally.inFlight(r.hostname),
        ...countsBody(tally.of(r.hostname))
      })),
      totals: countsBody(tally.totals()),
      workers: tally.workers.map(w => ({ pid: w.pid, requests: w.requests, in_flight: w.inFlight }))
    }
  })

  app.get('/ring', {
    schema: { tags: ['observability'], summary: 'The ring as arcs of the key space and their owners, for drawing', response: { 200: RingLayout } }
  }, async () => ({ scheme: ring.scheme, size: ring.size, digest: digest(), segments: app.ringView().segments }))
}

export default statsRoutes
