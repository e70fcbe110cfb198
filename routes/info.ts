import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { badRequest, conflict, unavailable } from '../lib/errors.js'
import { keyOfText, parseIntegerId } from '../lib/proxy/request-key.js'
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
      summary: 'Which replica a request with this id (or this key, from LB_HASH_KEY\'s sources) reaches now; nothing is forwarded',
      querystring: MapQuery,
      response: { 200: Mapping, 400: failure('neither id nor key, or both; an id that is not an integer'), 409: failure('LB_HASH=round-robin: no replica owns an id'), 503: ErrorBody }
    }
  }, async (request) => {
    const { id: idText, key: text } = request.query
    if ((idText === undefined) === (text === undefined)) throw badRequest('give either id (an integer) or key (any text)')
    if (app.ring.scheme === 'round-robin') throw conflict('LB_HASH=round-robin sends each request to the next replica in turn: no replica owns an id')
    const id = idText === undefined ? undefined : parseIntegerId(idText)
    if (idText !== undefined && id === undefined) throw badRequest(`id must be an integer, got '${idText}'`)
    const replica = app.ring.lookup(id ?? keyOfText(text as string))
    if (replica === undefined) throw unavailable('no replicas are available')
    const owner = { mapped_server: replica.id, hostname: replica.hostname }
    return id === undefined ? { key: text as string, ...owner } : { request_id: id, ...owner }
  })
}

export default infoRoutes
