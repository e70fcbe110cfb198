import { timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LbError } from '../lib/errors.js'
import { ChangeResult, addBody, changeBody, failure } from './schemas.js'

function sameToken (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** /add and /rm: change the replica set. Guarded by LB_ADMIN_TOKEN when it is set. */
const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { LB_ADMIN_TOKEN: token, LB_MAX_REPLICAS, LB_BODY_LIMIT } = app.config

  // the admin API takes JSON only; other content types answer 415
  app.removeContentTypeParser('text/plain')

  if (token !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      const header = request.headers.authorization ?? ''
      if (!header.startsWith('Bearer ') || !sameToken(header.slice(7), token)) {
        reply.header('www-authenticate', 'Bearer realm="ringlb"')
        throw new LbError(401, 'missing or wrong admin token: send Authorization: Bearer <LB_ADMIN_TOKEN>')
      }
    })
  }

  const errors = {
    400: failure('n missing, not an integer, below 1 or above LB_MAX_REPLICAS; more hostnames than n; an invalid or repeated hostname; /rm: n above the replicas running; /add: urls missing with LB_DRIVER=static (or given without it), not n of them, one not an http://host:port origin or given twice; malformed JSON; nothing changes'),
    401: failure('LB_ADMIN_TOKEN is set and the Authorization: Bearer token is missing or wrong; nothing changes'),
    413: failure('the body is larger than LB_BODY_LIMIT'),
    415: failure('the body is not application/json'),
    502: failure('the driver failed to start or stop a replica; the ring is left as it was'),
    503: failure('the container engine is unreachable, or a new replica (a static server: its url) did not pass its heartbeat in time; nothing was started')
  }
  const body = changeBody(LB_MAX_REPLICAS)
  const doc = { tags: ['admin'], security: [{ adminToken: [] }] }
  const result = () => {
    const replicas = app.replicas.healthy().map(r => r.hostname)
    return { message: { N: replicas.length, replicas }, status: 'successful' as const }
  }

  app.post('/add', {
    bodyLimit: LB_BODY_LIMIT,
    schema: { ...doc, summary: 'Start n replicas (LB_DRIVER=static: add the servers at urls); answers once they pass their first heartbeat and are in the ring', body: addBody(LB_MAX_REPLICAS), response: { 200: ChangeResult, ...errors, 409: failure('a replica with one of these hostnames already exists, or (static) a url is balanced already; nothing is started') } }
  }, async (request) => {
    await app.replicas.add(request.body.n, request.body.hostnames, request.body.urls)
    return result()
  })

  app.delete('/rm', {
    bodyLimit: LB_BODY_LIMIT,
    schema: { ...doc, summary: 'Remove n replicas; answers once they are out of the ring, drained and stopped (LB_DRIVER=static: drained and forgotten, never stopped)', body, response: { 200: ChangeResult, ...errors, 404: failure('a hostname that is not a replica of this balancer; nothing is removed') } }
  }, async (request) => {
    await app.replicas.remove(request.body.n, request.body.hostnames)
    return result()
  })
}

export default adminRoutes
