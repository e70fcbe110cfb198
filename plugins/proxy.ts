import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { pickBounded } from '../lib/rings/bounded-load.js'
import { badAnswerMessage, noAnswerMessage, unavailable } from '../lib/errors.js'
import { FastPath } from '../lib/proxy/fast-path/fast-path.js'
import { ClientGone, downstreamHeaders, forward, upstreamHeaders } from '../lib/proxy/forwarder.js'
import type { ReplicaHandle } from '../lib/replicas/drivers/driver.js'
import type { InFlight } from '../lib/proxy/in-flight.js'
import { ReplicaPools } from '../lib/proxy/replica-pools.js'
import { requestKey } from '../lib/proxy/request-key.js'
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
    /** the proxy's fast path (lib/fast-path.ts), unless LB_FAST_PATH or LB_ACCESS_LOG turned it off */
    fastPath: FastPath<ReplicaHandle> | undefined
  }
}

export interface ProxyOptions {
  /** the paths of the balancer's own routes, as registered: every other path is proxied */
  ownUrls: Iterable<string>
}

/**
 * Whether a path is one of `urls`, as Fastify's router matches them here (case
 * and trailing slash count; a `/x/*` route takes every path under `/x/`). A
 * path with %-escapes is never asked: the fast path leaves it to the router.
 */
export function ownPathMatcher (urls: Iterable<string>): (path: string) => boolean {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const url of urls) {
    if (url.includes(':')) throw new Error(`a parametric own route (${url}) needs the router: the fast path cannot tell it`)
    if (url.endsWith('*')) prefixes.push(url.slice(0, -1))
    else exact.add(url)
  }
  return (path) => exact.has(path) || prefixes.some(prefix => path.startsWith(prefix))
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
export default fp<ProxyOptions>(async (app, { ownUrls }) => {
  const { backends, config } = app
  const { ring, load } = backends
  const pools = new ReplicaPools({ connections: 128, pipelining: 1 })
  app.decorate('upstreams', pools)
  backends.on('leave', (replica) => { void pools.release(replica.url) })
  app.addHook('onClose', async () => { await pools.close() })

  const pick = config.LB_BALANCE_FACTOR > 0
    ? (key: number) => pickBounded(ring, key, config.LB_BALANCE_FACTOR, h => load.get(h), load.total)
    : (key: number) => ring.lookup(key)
  const retryOn = (key: number, failed: ReplicaHandle): ReplicaHandle | undefined => ring.preference(key).find(r => r !== failed)

  // the access log needs Fastify's request lifecycle: with it on, every request takes the plugin's path
  const fast = config.LB_FAST_PATH && !config.LB_ACCESS_LOG
  // the HTTP server's own connection listener, which now takes only the connections the fast path hands over
  const http = fast ? app.server.listeners('connection') as Array<(socket: Socket) => void> : []
  const fastPath = fast
    ? new FastPath<ReplicaHandle>({
      pick,
      retryOn,
      load,
      reportFailure: (hostname) => { backends.reportFailure(hostname) },
      metrics: app.metrics,
      isOwn: ownPathMatcher(ownUrls),
      timeoutMs: config.LB_PROXY_TIMEOUT_MS,
      keepAliveTimeoutMs: app.server.keepAliveTimeout,
      headersTimeoutMs: app.server.headersTimeout,
      closing: () => app.closing,
      handOff: (socket) => { for (const listener of http) listener.call(app.server, socket) }
    })
    : undefined
  if (fastPath !== undefined) {
    app.server.removeAllListeners('connection')
    app.server.on('connection', (socket: Socket) => { fastPath.accept(socket) })
    backends.on('leave', (replica) => { fastPath.release(replica.url) })
    app.addHook('preClose', async () => { fastPath.close() })
  }
  app.decorate('fastPath', fastPath)

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
          reply.code(502).send({ message: `<Error> ${badAnswerMessage(hostname, error.message)}`, status: 'failure' })
          return
        }
        backends.reportFailure(hostname)
        const next = retried || !IDEMPOTENT.has(request.method) ? undefined : retryOn(key, replica)
        if (next !== undefined) {
          app.metrics.retried(hostname)
          send(request, reply, key, next, true)
          return
        }
        reply.code(TIMEOUTS.has(code) ? 504 : 502)
          .send({ message: `<Error> ${noAnswerMessage(hostname, code)}`, status: 'failure' })
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
