import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { pickBounded } from '../lib/bounded-load.js'
import { unavailable } from '../lib/errors.js'
import { ClientGone, downstreamHeaders, forward, upstreamHeaders } from '../lib/forward.js'
import type { ReplicaHandle } from '../lib/drivers/driver.js'
import type { InFlight } from '../lib/in-flight.js'
import { ReplicaPools } from '../lib/replica-pools.js'
import { requestKey } from '../lib/request-key.js'
import type { Ring } from '../lib/rings/index.js'

/**
 * What the proxy needs of the replica set: the ring it routes on, the requests
 * in flight, where to report a replica that did not answer, and word of a
 * replica leaving (its connections go). The replica manager is one; a cluster
 * worker's copy of the primary's ring is the other (lib/ring-mirror.ts).
 */
export interface Backends {
  readonly ring: Ring<ReplicaHandle>
  readonly load: InFlight
  reportFailure: (hostname: string) => void
  on: (event: 'leave', listener: (replica: ReplicaHandle) => void) => unknown
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the replica set as the proxy sees it */
    backends: Backends
    /** the connection pools to the replicas, one per replica origin */
    upstreams: ReplicaPools
  }
}

/** Bodies pass through untouched, as bytes, so that a retry can send them again. */
export function passBodiesThrough (scope: FastifyInstance, bodyLimit: number): void {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => {
    done(null, (body as Buffer).length > 0 ? body : undefined)
  })
}

/** The request body as read by passBodiesThrough; GET and HEAD carry none. */
export function bodyOf (request: FastifyRequest): Buffer | undefined {
  if (request.method === 'GET' || request.method === 'HEAD') return undefined
  return request.body as Buffer | undefined
}

/** Methods safe to send twice: a failed attempt is retried on the next replica. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

/** Upstream failures that mean the replica did not answer at all. */
const NO_ANSWER = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT'])
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT'])

function failureCode (error: Error): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause
  return cause?.code ?? (error as { code?: string }).code
}

/**
 * Starts the client's answer with an upstream's status and headers, less
 * hop-by-hop ones, naming the replica that answered (when one did) and closing
 * the connection once the balancer is closing. The body then goes straight to
 * the socket, and Fastify's onResponse hooks still run when it ends.
 */
export function writeAnswerHead (reply: FastifyReply, statusCode: number, headers: Record<string, string | string[] | undefined>, replica: string | undefined, closing: boolean): void {
  const out = downstreamHeaders(headers)
  if (replica !== undefined) out['x-ringlb-replica'] = replica
  if (closing) out.connection = 'close'
  reply.raw.writeHead(statusCode, out)
  reply.hijack()
}

/**
 * Forwards every request that is not a balancer route to the replica owning
 * its key on the ring, over our own per-replica undici pools, streaming the
 * answer back (lib/forward.ts). A replica that does not answer is reported to
 * the health checker, and an idempotent request is tried once more on the next
 * replica in the scheme's preference order.
 */
export default fp(async (app) => {
  const { backends, config } = app
  const { ring, load } = backends
  const pools = new ReplicaPools({ connections: 128, pipelining: 1 })
  app.decorate('upstreams', pools)
  backends.on('leave', (replica) => { void pools.release(replica.url) })
  app.addHook('onClose', async () => { await pools.close() })

  const pick = config.LB_BALANCE_FACTOR > 0
    ? (key: number) => pickBounded(ring, key, config.LB_BALANCE_FACTOR, h => load.get(h), load.total)
    : (key: number) => ring.lookup(key)

  function send (request: FastifyRequest, reply: FastifyReply, key: number, replica: ReplicaHandle, retried: boolean): void {
    const hostname = replica.hostname
    load.inc(hostname)
    let settled = false
    const release = (): void => {
      if (settled) return
      settled = true
      load.dec(hostname)
    }
    reply.raw.once('close', release)
    // on the reply too, for an error answer below and for the metrics plugin's onResponse hook
    reply.header('x-ringlb-replica', hostname)
    forward(pools, {
      origin: replica.url,
      method: request.method,
      path: request.url,
      headers: upstreamHeaders(request.raw),
      body: bodyOf(request),
      timeoutMs: config.LB_PROXY_TIMEOUT_MS
    }, reply.raw, {
      onResponse: (statusCode, headers) => { writeAnswerHead(reply, statusCode, headers, hostname, app.closing) },
      onError: (error, answered) => {
        reply.raw.off('close', release)
        release()
        if (answered) {
          // the answer broke off midway and the client's connection was closed: the replica's doing, unless the client left
          if (!(error instanceof ClientGone)) {
            app.metrics.broken(hostname)
            backends.reportFailure(hostname)
          }
          return
        }
        // a client that left is owed nothing, not even a retry
        if (error instanceof ClientGone || reply.raw.destroyed) return
        const code = failureCode(error)
        if (code === undefined || !NO_ANSWER.has(code)) {
          reply.code(502).send({ message: `<Error> replica ${hostname} failed: ${error.message}`, status: 'failure' })
          return
        }
        backends.reportFailure(hostname)
        const next = retried || !IDEMPOTENT.has(request.method) ? undefined : ring.preference(key).find(r => r !== replica)
        if (next !== undefined) {
          app.metrics.retried(hostname)
          send(request, reply, key, next, true)
          return
        }
        reply.code(TIMEOUTS.has(code) ? 504 : 502)
          .send({ message: `<Error> replica ${hostname} did not answer (${code})`, status: 'failure' })
      }
    })
  }

  await app.register(async (scope) => {
    passBodiesThrough(scope, config.LB_BODY_LIMIT)
    // not async: the hot path has no use for a promise per request, and Fastify catches a throw all the same
    const handler = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
      const key = requestKey(request)
      const replica = pick(key)
      if (replica === undefined) throw unavailable('no replicas are available')
      send(request, reply, key, replica, false)
      return reply
    }
    if (!config.LB_ACCESS_LOG) {
      // Fastify's two log lines and a child logger per request cost more CPU than
      // the forwarding itself: proxied requests share one logger that records warnings up
      const level = ['error', 'fatal', 'silent'].includes(app.log.level) ? app.log.level : 'warn'
      const quiet = app.log.child({ component: 'proxy' }, { level })
      scope.setChildLoggerFactory(() => quiet)
    }
    scope.all('/', handler)
    scope.all('/*', handler)
  })
}, { name: 'proxy', decorators: { fastify: ['config', 'backends', 'metrics', 'closing'] } })
