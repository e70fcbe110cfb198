import { timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LbError } from '../lib/errors.js'
import { ChangeResult, ErrorBody, changeBody } from './schemas.js'

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

  const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody, 502: ErrorBody, 503: ErrorBody }
  const body = changeBody(LB_MAX_REPLICAS)
  const result = () => {
    const replicas = app.replicas.healthy().map(r => r.hostname)
    return { message: { N: replicas.length, replicas }, status: 'successful' as const }
  }

  app.post('/add', {
    bodyLimit: LB_BODY_LIMIT,
    schema: { summary: 'Start n replicas; answers once they pass their first heartbeat and are in the ring', body, response: { 200: ChangeResult, ...errors } }
  }, async (request) => {
    await app.replicas.add(request.body.n, request.body.hostnames)
    return result()
  })

  app.delete('/rm', {
    bodyLimit: LB_BODY_LIMIT,
    schema: { summary: 'Remove n replicas; answers once they are out of the ring, drained and stopped', body, response: { 200: ChangeResult, ...errors } }
  }, async (request) => {
    await app.replicas.remove(request.body.n, request.body.hostnames)
    return result()
  })
}

export default adminRoutes
