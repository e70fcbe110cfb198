import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { badRequest, conflict, unavailable } from '../lib/errors.js'
import { parseIntegerId } from '../lib/proxy/request-key.js'
import { ErrorBody, MapQuery, Mapping, ReplicaSet, failure } from './schemas.js'

/** Read-only routes: liveness, the replica set, and where an id goes. */
const infoRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/heartbeat', {
    schema: { tags: ['info'], summary: 'The balancer is alive', produces: ['text/plain'], response: { 200: { type: 'string' } } }
  }, async (_request, reply) => await reply.type('text/plain').send('Hello'))

  app.get('/rep', {
    schema: { tags: ['info'], summary: 'The healthy replicas in the ring', response: { 200: ReplicaSet } }
  }, async () => {
    const replicas = app.replicas.healthy().map(r => r.hostname)
    return { N: replicas.length, replicas }
  })

  app.get('/map_request', {
    schema: {
      tags: ['info'],
      summary: 'Which replica a request with this id reaches now; nothing is forwarded',
      querystring: MapQuery,
      response: { 200: Mapping, 400: ErrorBody, 409: failure('LB_HASH=round-robin: no replica owns an id'), 503: ErrorBody }
    }
  }, async (request) => {
    if (app.ring.scheme === 'round-robin') throw conflict('LB_HASH=round-robin sends each request to the next replica in turn: no replica owns an id')
    const id = parseIntegerId(request.query.id)
    if (id === undefined) throw badRequest(`id must be an integer, got '${request.query.id}'`)
    const replica = app.ring.lookup(id)
    if (replica === undefined) throw unavailable('no replicas are available')
    return { request_id: id, mapped_server: replica.id, hostname: replica.hostname }
  })
}

export default infoRoutes
