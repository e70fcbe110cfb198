import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyHttpOptions, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Workers } from './lib/cluster/primary.js'
import type { RingMirror } from './lib/cluster/ring-mirror.js'
import type { OwnRoute } from './lib/cluster/messages.js'
import type { Config } from './lib/config.js'
import { LbError, errorAnswer } from './lib/errors.js'
import type { BalancerMetrics } from './lib/metrics/metrics.js'
import type { Driver } from './lib/replicas/drivers/index.js'
import configPlugin from './plugins/config.js'
import gracefulClose from './plugins/graceful-close.js'
import metricsPlugin from './plugins/metrics.js'
import openapiPlugin from './plugins/openapi.js'
import ownRoutesPlugin from './plugins/own-routes.js'
import proxyPlugin from './plugins/proxy.js'
import relayPlugin from './plugins/relay.js'
import replicasPlugin from './plugins/replicas.js'
import ringViewPlugin from './plugins/ring-view.js'
import ringPlugin from './plugins/ring.js'
import adminRoutes from './routes/admin.js'
import dashboardRoutes from './routes/dashboard.js'
import docsRoutes from './routes/docs.js'
import infoRoutes from './routes/info.js'
import ownPaths from './routes/own-paths.js'
import statsRoutes from './routes/stats.js'

/**
 * A process's part in a clustered balancer (LB_WORKERS > 1, server.ts):
 * the primary keeps the replicas, the ring and the balancer's own routes;
 * each worker serves the port, proxies on its copy of the primary's ring and
 * relays the balancer's own routes to the primary.
 */
export type ClusterRole =
  | { role: 'primary', workers: Workers }
  | { role: 'worker', mirror: RingMirror, metrics: BalancerMetrics, primary: string, routes: OwnRoute[] }

export interface AppOptions {
  /** a configuration already read; else it is read from `env` */
  config?: Config
  /** settings to read instead of the process environment (tests) */
  env?: Record<string, string | undefined>
  /** a replica driver to use instead of the one LB_DRIVER names (tests) */
  driver?: Driver
  /** this process's part in a cluster; a balancer in one process has none */
  cluster?: ClusterRole
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a malformed
 * head, a head over 16 KiB, one not whole in time) are answered in the
 * contract's error shape too, and their connection closed, as Node does.
 */
function answerClientError (error: Error & { code?: string }, socket: Socket): void {
  // bytes after a request that closes its connection (HTTP/1.0, `Connection: close`) are not read: the answer in flight still goes, then the connection closes
  if (error.code === 'ECONNRESET' || error.code === 'HPE_CLOSED_CONNECTION' || socket.destroyed) return
  const [status, reason] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'request head is larger than the limit (16 KiB)']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request head not received in time']
      : [400, `malformed HTTP request (${error.code ?? error.message})`]
  if (socket.writable) socket.write(errorAnswer(status, reason, ['connection: close']))
  socket.destroy(error)
}

/** Server options, also read by fastify-cli (`fastify start dist/app.js`). */
export const options: FastifyHttpOptions<Server> = {
  // a JSON body's types are checked, not coerced: {"n": "2"} is an error
  ajv: { customOptions: { coerceTypes: false } },
  clientErrorHandler: answerClientError,
  // a missing Host is refused by the proxy (lib/proxy/headers.ts), in the error shape rather than Node's bare 400
  http: { requireHostHeader: false },
  // starting the replicas is part of getting ready, and containers take a while
  pluginTimeout: 120_000
}

/**
 * The server options for PORT: `options`, and with LB_TLS_CERT and
 * LB_TLS_KEY, TLS that offers h2 and http/1.1 by ALPN. Fastify's HTTP/2
 * server answers both (allowHTTP1): an h2 client gets HTTP/2, any other one
 * HTTP/1.1 on the same routes, WebSocket upgrades included.
 */
export function serverOptions (config: Config): FastifyServerOptions {
  if (config.tls === undefined) return options
  // noDelay, as Node's HTTP server has by default: without it, Nagle's algorithm holds back the small TLS records of an answer (~40 ms a request)
  const tls = { http2: true, https: { allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'], cert: config.tls.cert, key: config.tls.key, noDelay: true } }
  // Fastify types an HTTP/2 instance apart; the app serves both alike
  return { ...options, ...tls } as FastifyServerOptions
}

/** The reason a client reads in an error body, from Fastify's own errors in plain words. */
function describe (error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return `unsupported content type: send application/json (${error.message})`
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return 'request body is larger than the limit (LB_BODY_LIMIT)'
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return 'body is empty but the content type is application/json'
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return `malformed JSON body: ${error.message}`
  }
  if (error instanceof SyntaxError) return `malformed JSON body: ${error.message}`
  if (error.validation !== undefined) return `invalid request: ${error.message}`
  return error.message
}

/** The one error handler: every error leaves in the contract's shape. */
async function answerError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const status = error instanceof LbError || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600)
    ? (error.statusCode as number)
    : 500
  if (status >= 500) request.log.error({ err: error }, 'request failed')
  return await reply.code(status).send({ message: `<Error> ${describe(error)}`, status: 'failure' })
}

/**
 * The balancer as a Fastify plugin, in the order a request meets it: the
 * configuration, the ring, the replica set (the container manager), the
 * metrics, the balancer's own routes (relayed to the primary in a cluster
 * worker), then the proxy for every other path (not in a cluster's primary,
 * whose workers proxy).
 */
export default async function ringlb (app: FastifyInstance, opts: AppOptions): Promise<void> {
  const { cluster } = opts
  const worker = cluster?.role === 'worker' ? cluster : undefined
  const workers = cluster?.role === 'primary' ? cluster.workers : undefined
  app.setErrorHandler(answerError)
  app.setNotFoundHandler((request, reply) => reply.code(404).send({
    message: `<Error> no route for ${request.method} ${request.url.split('?', 1)[0]}`,
    status: 'failure'
  }))

  await app.register(configPlugin, { config: opts.config, env: opts.env })
  await app.register(gracefulClose)
  await app.register(ringPlugin, { ring: worker?.mirror.ring })
  await app.register(replicasPlugin, { driver: opts.driver, workers, mirror: worker?.mirror })
  await app.register(ownRoutesPlugin)
  if (worker !== undefined) {
    await app.register(metricsPlugin, { metrics: worker.metrics })
    await app.register(relayPlugin, { primary: worker.primary, routes: worker.routes })
  } else {
    await app.register(openapiPlugin)
    await app.register(ringViewPlugin)
    await app.register(metricsPlugin, { workers })
    await app.register(ownPaths, { routes: [infoRoutes, adminRoutes, statsRoutes, docsRoutes, dashboardRoutes] })
  }
  if (workers !== undefined) return
  if (cluster === undefined && app.config.LB_WORKERS > 1) app.log.warn({ LB_WORKERS: app.config.LB_WORKERS }, 'LB_WORKERS is read by `node dist/server.js` (npm start) only: this balancer runs in one process')
  await app.register(proxyPlugin)
}
