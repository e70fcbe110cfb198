import { type IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Duplex } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { badRequest, errorAnswer, unavailable } from '../lib/errors.js'
import { FastPath } from '../lib/proxy/fast-path/fast-path.js'
import { ClientGone, failedAttempt, forward } from '../lib/proxy/forwarder.js'
import { checkTarget, downstreamHeaders, upgradeHeaders, upstreamHeaders } from '../lib/proxy/headers.js'
import { type Backends, Lifecycle, NO_REPLICAS, type ProxiedRequest } from '../lib/proxy/lifecycle.js'
import { ownPathMatcher } from '../lib/proxy/own-paths.js'
import { ReplicaPools } from '../lib/proxy/replica-pools.js'
import { Tunnels } from '../lib/proxy/tunnels.js'
import { openTunnel, upgradeDecision } from '../lib/proxy/upgrade.js'
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
  // HTTP/2 has no Connection header: its sessions close with GOAWAY, which Node sends when the server closes
  if (closing && reply.request.raw.httpVersionMajor < 2) out.connection = 'close'
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
  // ringlb is no forward proxy: a CONNECT gets a 400 in the error shape, where Node would close without a word
  app.server.on('connect', (_request: unknown, socket: Socket) => {
    socket.end(errorAnswer(400, 'CONNECT is not served: ringlb is a reverse proxy', ['connection: close']), () => { socket.destroy() })
  })
  metrics.watchConnections(() => [
    { transport: 'undici', origins: pools.connections() },
    ...(fastPath === undefined ? [] : [{ transport: 'fast-path', origins: fastPath.connections() }])
  ])

  const tunnels = takeUpgrades(app)

  /** An upgrade request (a WebSocket): tunnelled when LB_UPGRADE_PROTOCOLS lists what it asks for, refused otherwise. */
  function upgrade (request: FastifyRequest, reply: FastifyReply, head: Buffer, path: string): void {
    const decision = upgradeDecision(String(request.headers.upgrade), config.LB_UPGRADE_PROTOCOLS)
    if (decision.action === 'refuse') throw badRequest(decision.reason)
    const proxied = lifecycle.begin(request, request.method)
    if (proxied === undefined) throw unavailable(NO_REPLICAS)
    // h2c alone: a plain request, whose Upgrade header stays on this hop
    if (decision.action === 'ignore') {
      attempt(request, reply, proxied, path)
      return
    }
    openTunnel(proxied, {
      method: request.method,
      path,
      headers: upgradeHeaders(request.raw as IncomingMessage),
      client: request.raw.socket,
      head,
      websocket: decision.protocol === 'websocket'
    }, {
      timeoutMs: config.LB_PROXY_TIMEOUT_MS,
      owner: tunnels.owner,
      bytes: (hostname) => {
        const counts = metrics.tunnelOpened(hostname)
        return { toReplica: (n) => { counts.tunnelBytesToReplica += n }, toClient: (n) => { counts.tunnelBytesToClient += n } }
      },
      opened: (tunnel) => {
        reply.hijack()
        tunnels.add(tunnel)
      }
    }, {
      passBack: (response, hostname) => {
        writeAnswerHead(reply, response.statusCode ?? 502, response.headers, hostname, true)
        response.pipe(reply.raw)
      },
      fail: (statusCode, message, hostname) => {
        void reply.code(statusCode).header('x-ringlb-replica', hostname).send({ message: `<Error> ${message}`, status: 'failure' })
      }
    })
  }

  /** One attempt on the undici path: the bytes go through our pools, what happens is the lifecycle's to say. */
  function attempt (request: FastifyRequest, reply: FastifyReply, proxied: ProxiedRequest<ReplicaHandle>, path: string): void {
    const { hostname, url } = proxied.replica
    forward(pools, {
      origin: url,
      method: request.method,
      path,
      headers: upstreamHeaders(request.raw),
      body: bodyOf(request),
      timeoutMs: config.LB_PROXY_TIMEOUT_MS
    }, reply.raw, {
      // an upgrade not taken: Node's parser reads nothing more on that connection, so the answer closes it rather than leave what follows unanswered
      onResponse: (statusCode, headers) => { writeAnswerHead(reply, statusCode, headers, hostname, app.closing || request.headers.upgrade !== undefined) },
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
        const { outcome, malformed } = failedAttempt(proxied, error)
        if ('retry' in outcome) {
          attempt(request, reply, proxied, path)
          return
        }
        // an answer refused as malformed closes the client's connection too (docs/http-strictness.md)
        if (malformed) reply.header('connection', 'close')
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
      const target = checkTarget(request.raw)
      if ('refused' in target) {
        // what follows it on the connection is not read: a refused request may have been framed another way
        reply.header('connection', 'close')
        throw badRequest(target.refused)
      }
      const head = upgradeHeads.get(request.raw)
      if (head !== undefined) {
        upgrade(request, reply, head, target.path)
        return reply
      }
      const proxied = lifecycle.begin(request, request.method)
      if (proxied === undefined) throw unavailable(NO_REPLICAS)
      attempt(request, reply, proxied, target.path)
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

/** Upgrade requests, with the bytes their client sent after the head: the HTTP server hands them over with their socket. */
const upgradeHeads = new WeakMap<object, Buffer>()

/**
 * Takes the HTTP server's upgrade requests (Node hands them over in
 * 'upgrade', with their socket, not in 'request'; the fast path leaves them
 * to it) through Fastify's router like any request, as @fastify/websocket
 * does: the balancer's own routes answer them as usual, and the proxy's route
 * tunnels them. Any answer other than a tunnel is the connection's last, since
 * no HTTP parser reads it any more. Open tunnels follow the ring (Tunnels),
 * and are closed at shutdown.
 */
function takeUpgrades (app: FastifyInstance): Tunnels {
  const { backends, config, metrics } = app
  // round-robin gives a key no owner (and each lookup moves it on): its tunnels have nowhere to follow
  const keyed = config.LB_HASH !== 'round-robin'
  const tunnels = new Tunnels({
    owner: keyed ? key => backends.ring.lookup(key)?.hostname : () => undefined,
    closeMoved: keyed && config.LB_CLOSE_MOVED_TUNNELS,
    graceMs: config.LB_MOVED_TUNNEL_GRACE_MS,
    drainMs: config.LB_DRAIN_MS,
    onClosed: (tunnel, moved) => { metrics.tunnelClosed(tunnel.replica, moved) }
  })
  backends.on('join', () => { tunnels.ringChanged() })
  backends.on('leave', (replica) => { tunnels.replicaLeft(replica.hostname) })
  app.addHook('preClose', async () => { tunnels.closeAll() })
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => { socket.destroy() })
    upgradeHeads.set(request, head)
    const response = new ServerResponse(request)
    response.assignSocket(socket as Socket)
    response.shouldKeepAlive = false
    response.once('finish', () => { socket.end() })
    app.routing(request, response)
  })
  return tunnels
}

/**
 * Puts the fast path in front of the HTTP server: it takes every new
 * connection, and gives the server (through the server's own connection
 * listener) those it leaves. Over TLS it takes them once the handshake is
 * done: HTTP/1.1 ones (ALPN http/1.1, or none), while h2 ones go straight to
 * the HTTP/2 server.
 */
function takeConnections (app: FastifyInstance, lifecycle: Lifecycle<ReplicaHandle>): FastPath<ReplicaHandle> {
  const event = app.config.tls === undefined ? 'connection' : 'secureConnection'
  const http = app.server.listeners(event) as Array<(socket: Socket) => void>
  const handOff = (socket: Socket): void => { for (const listener of http) listener.call(app.server, socket) }
  const fastPath = new FastPath<ReplicaHandle>({
    lifecycle,
    // the balancer's own routes, registered before this plugin
    isOwn: ownPathMatcher(app.ownRoutes.urls()),
    timeoutMs: app.config.LB_PROXY_TIMEOUT_MS,
    // Node's HTTP/1.1 default; the HTTP/2 server has no such setting
    keepAliveTimeoutMs: app.server.keepAliveTimeout ?? 5000,
    headersTimeoutMs: app.server.headersTimeout ?? 60_000,
    closing: () => app.closing,
    handOff
  })
  app.server.removeAllListeners(event)
  app.server.on(event, (socket: Socket) => {
    if ((socket as TLSSocket).alpnProtocol === 'h2') handOff(socket)
    else fastPath.accept(socket)
  })
  app.backends.on('leave', (replica) => { fastPath.release(replica.url) })
  app.backends.on('fail', (replica) => { fastPath.abandon(replica.url) })
  app.addHook('preClose', async () => { fastPath.close() })
  return fastPath
}
