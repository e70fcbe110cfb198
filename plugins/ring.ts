import fp from 'fastify-plugin'
import { ringOptions } from '../lib/config.js'
import type { ReplicaHandle } from '../lib/replicas/drivers/driver.js'
import { type Ring, createRing } from '../lib/rings/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the live hash ring of healthy replicas, shared by the proxy and /map_request */
    ring: Ring<ReplicaHandle>
  }
}

export interface RingPluginOptions {
  /** a cluster worker's copy of the primary's ring (lib/cluster/ring-mirror.ts), instead of a ring of its own */
  ring?: Ring<ReplicaHandle>
}

/** The ring the settings ask for (LB_HASH and its parameters). */
export default fp<RingPluginOptions>(async (app, options) => {
  app.decorate('ring', options.ring ?? createRing<ReplicaHandle>(ringOptions(app.config)))
}, { name: 'ring', dependencies: ['config'] })
