import fp from 'fastify-plugin'
import { ringOptions } from '../lib/config.js'
import type { Replica } from '../lib/replicas/manager.js'
import { type Ring, createRing } from '../lib/rings/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the live hash ring of healthy replicas, shared by the proxy and /map_request */
    ring: Ring<Replica>
  }
}

export default fp(async (app) => {
  app.decorate('ring', createRing<Replica>(ringOptions(app.config)))
}, { name: 'ring', dependencies: ['config'] })
