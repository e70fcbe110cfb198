import fp from 'fastify-plugin'
import { type RingView, ringView } from '../lib/rings/view.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the ring's shares and drawable arcs, recomputed only after the ring changed */
    ringView: () => RingView
  }
}

/** A maglev table has 65537 slots to walk: the dashboard polls, so the walk happens once per ring change. */
export default fp(async (app) => {
  let cached: RingView | undefined
  const invalidate = (): void => { cached = undefined }
  app.replicas.on('join', invalidate)
  app.replicas.on('leave', invalidate)
  app.decorate('ringView', () => {
    cached ??= ringView(app.ring.arcs())
    return cached
  })
}, { name: 'ring-view', dependencies: ['ring', 'replicas'] })
