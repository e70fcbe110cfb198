import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { unavailable } from '../lib/errors.js'
import { FastPath } from '../lib/proxy/fast-path/fast-path.js'
import { ClientGone, forward, noAnswerCode } from '../lib/proxy/forwarder.js'
import { downstreamHeaders, upstreamHeaders } from '../lib/proxy/headers.js'
import { type Backends, Lifecycle, NO_REPLICAS, type ProxiedRequest } from '../lib/proxy/lifecycle.js'
import { ownPathMatcher } from '../lib/proxy/own-paths.js'
import { ReplicaPools } from '../lib/proxy/replica-pools.js'
import type { ReplicaHandle } from '../lib/replicas/drivers/driver.js'
import { servedOn } from './admin-port.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the replica set as the proxy sees it: the replica manager, or a cluster worker's copy of the primary's ring */
    backends: Backends<ReplicaHandle>
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

/**
 * Starts the client's answer with an upstream's status and headers, less
 * hop-by-hop ones, naming the replica that answered (when one did) and closing
 * the connection once the balancer is closing. The body then goes straight to
 * the socket.
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
 * its key. One lifecycle (lib/proxy/lifecycle.ts) decides each request's fate;
 * two transports carry the bytes: the fast path takes the connections first
 * and forwards bodiless GETs and HEADs on its own sockets, and hands every
 * other request, with its connection, to Fastify and the undici forwarder
 * below.
 */
export default fp(async (app) => {
  const { backends, config, metrics } = app
  const lifecycle = new Lifecycle<ReplicaHandle>({
    ring: backends.ring,
    load: backends.load,
    balanceFactor: config.LB_BALANCE_FACTOR,
    reportFailure: (hostname) => { backends.reportFailure(hostname) },
    counts: metrics,
    hashKey: config.LB_HASH_KEY
  })
  const pools = new ReplicaPools({ connections: 128, pipelining: 1 })
  backends.on('leave', (replica) => { void pools.release(replica.url) })
  backends.on('fail', (replica) => { void pools.abandon(replica.url) })
  app.addHook('onClose', async () => { await pools.close() })

  // the access log needs Fastify's request lifecycle: with it on, every request takes the undici path
  const fastPath = config.LB_FAST_PATH && !config.LB_ACCESS_LOG ? takeConnections(app, lifecycle) : undefined
  metrics.watchConnections(() => [
    { transport: 'undici', origins: pools.connections() },
    ...(fastPath === undefined ? [] : [{ transport: 'fast-path', origins: fastPath.connections() }])
  ])

  /** One attempt on the undici path: the bytes go through our pools, what happens is the lifecycle's to say. */
  function attempt (request: FastifyRequest, reply: FastifyReply, proxied: ProxiedRequest<ReplicaHandle>): void {
    const { hostname, url } = proxied.replica
    forward(pools, {
      origin: url,
      method: request.method,
      path: request.url,
      headers: upstreamHeaders(request.raw),
      body: bodyOf(request),
      timeoutMs: config.LB_PROXY_TIMEOUT_MS
    }, reply.raw, {
      onResponse: (statusCode, headers) => { writeAnswerHead(reply, statusCode, headers, hostname, app.closing) },
      onEnd: (statusCode) => { proxied.answered(statusCode) },
      onError: (error, answered) => {
        // a client that left is owed nothing, not even a retry
        if (error instanceof ClientGone || (!answered && reply.raw.destroyed)) {
          proxied.clientGone()
          return
        }
        // the answer broke off midway and the client's connection was closed
        if (answered) {
          proxied.broken()
          return
        }
        const code = noAnswerCode(error)
        const outcome = code === undefined ? proxied.badAnswer(error.message) : proxied.noAnswer(code)
        if ('retry' in outcome) {
          attempt(request, reply, proxied)
          return
        }
        reply.code(outcome.statusCode).header('x-ringlb-replica', proxied.replica.hostname)
          .send({ message: `<Error> ${outcome.message}`, status: 'failure' })
      }
    })
  }

  await app.register(async (scope) => {
    // with LB_ADMIN_PORT, the proxy answers on PORT only, and on every path there
    servedOn(scope, 'main')
    passBodiesThrough(scope, config.LB_BODY_LIMIT)
    // not async: the proxy has no use for a promise per request, and Fastify catches a throw all the same
    const handler = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
      const proxied = lifecycle.begin(request, request.method)
      if (proxied === undefined) throw unavailable(NO_REPLICAS)
      attempt(request, reply, proxied)
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
}, { name: 'proxy', dependencies: ['config', 'graceful-close', 'ring', 'replicas', 'metrics', 'own-routes'] })

/**
 * Puts the fast path in front of the HTTP server: it takes every new
 * connection, and gives the server (through the server's own connection
 * listener) those it leaves.
 */
function takeConnections (app: FastifyInstance, lifecycle: Lifecycle<ReplicaHandle>): FastPath<ReplicaHandle> {
  const http = app.server.listeners('connection') as Array<(socket: Socket) => void>
  const fastPath = new FastPath<ReplicaHandle>({
    lifecycle,
    // the balancer's own routes, registered before this plugin
    isOwn: ownPathMatcher(app.ownRoutes.urls()),
    timeoutMs: app.config.LB_PROXY_TIMEOUT_MS,
    keepAliveTimeoutMs: app.server.keepAliveTimeout,
    headersTimeoutMs: app.server.headersTimeout,
    closing: () => app.closing,
    handOff: (socket) => { for (const listener of http) listener.call(app.server, socket) }
  })
  app.server.removeAllListeners('connection')
  app.server.on('connection', (socket: Socket) => { fastPath.accept(socket) })
  app.backends.on('leave', (replica) => { fastPath.release(replica.url) })
  app.backends.on('fail', (replica) => { fastPath.abandon(replica.url) })
  app.addHook('preClose', async () => { fastPath.close() })
  return fastPath
}
