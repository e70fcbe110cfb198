import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Pool } from 'undici'
import type { OwnRoute } from '../lib/cluster/messages.js'
import { forward } from '../lib/proxy/forwarder.js'
import { upstreamHeaders } from '../lib/proxy/headers.js'
import { bodyOf, passBodiesThrough, writeAnswerHead } from './proxy.js'

export interface RelayOptions {
  /** where the primary serves the balancer's own routes, e.g. http://127.0.0.1:40123 */
  primary: string
  routes: OwnRoute[]
}

/**
 * A cluster worker's side of the balancer's own routes (/rep, /add, /rm,
 * /map_request, /stats, ...): each is relayed as it came, body untouched, to
 * the primary, which owns the replicas and answers for all workers.
 */
export default fp<RelayOptions>(async (app, { primary, routes }) => {
  const { config } = app
  const pool = new Pool(primary, { connections: 16 })
  app.addHook('onClose', async () => { await pool.close() })
  // no timeout of the relay's own: the primary bounds its routes (an /add waits for new replicas'
  // first heartbeat, an /rm for a drain, each behind the changes queued before it), as in one process
  const timeoutMs = 0

  const relay = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    forward(pool, { origin: primary, method: request.method, path: request.url, headers: upstreamHeaders(request.raw), body: bodyOf(request), timeoutMs }, reply.raw, {
      onResponse: (statusCode, headers) => { writeAnswerHead(reply, statusCode, headers, undefined, app.closing) },
      onError: (error, answered) => {
        if (answered || reply.raw.destroyed) return
        void reply.code(502).send({ message: `<Error> the balancer's primary process did not answer: ${error.message}`, status: 'failure' })
      }
    })
    return reply
  }
  await app.register(async (scope) => {
    passBodiesThrough(scope, config.LB_BODY_LIMIT)
    // the primary logs these requests; the worker logs only what goes wrong here
    for (const { methods, url } of routes) scope.route({ method: methods, url, handler: relay, logLevel: 'warn' })
  })
}, { name: 'relay', decorators: { fastify: ['config', 'closing'] } })
