import fp from 'fastify-plugin'
import type { Replica } from '../lib/replica-manager.js'
import { type Ring, createRing } from '../lib/rings/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the live hash ring of healthy replicas, shared by the proxy and /map_request */
    ring: Ring<Replica>
  }
}

export default fp(async (app) => {
  const { LB_HASH, LB_SLOTS, LB_VNODES, LB_MAGLEV_TABLE, LB_RING_VNODES } = app.config
  app.decorate('ring', createRing<Replica>({
    scheme: LB_HASH,
    slots: LB_SLOTS,
    vnodes: LB_VNODES,
    tableSize: LB_MAGLEV_TABLE,
    ringVnodes: LB_RING_VNODES
  }))
}, { name: 'ring', dependencies: ['config'] })
