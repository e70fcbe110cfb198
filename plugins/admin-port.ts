import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** where the balancer's own routes are served apart from PORT (LB_ADMIN_PORT); undefined: on PORT, among the proxied paths */
    adminServer: Server | undefined
  }
}

type Handler = Parameters<ReturnType<Parameters<FastifyInstance['addConstraintStrategy']>[0]['storage']>['set']>[1]

/** Which listener a request came in on: the routes of the balancer's own answer on `admin`, the proxy on `main`. */
type Entry = 'admin' | 'main'

export interface AdminPortOptions {
  /** false in a cluster's processes: the primary listens on LB_ADMIN_PORT itself, and its workers proxy */
  enabled: boolean
  /** Node's handler for requests its HTTP parser refuses, as on the main port */
  clientErrorHandler: (error: Error, socket: Socket) => void
}

/**
 * LB_ADMIN_PORT, in a balancer of one process: a second listener whose
 * requests go through the same app, told apart by Fastify's route
 * constraints. The balancer's own routes are constrained to it, the proxy's to
 * the main port, so the main port proxies every path (an app's own /metrics or
 * /docs included) and the admin port answers only the balancer's own. As
 * Traefik's API entry point or HAProxy's stats socket. Unset, nothing changes.
 * (A cluster's primary listens on LB_ADMIN_PORT itself: its workers proxy.)
 */
export default fp<AdminPortOptions>(async (app, { enabled, clientErrorHandler }) => {
  const port = app.config.LB_ADMIN_PORT
  if (port === undefined || !enabled) {
    app.decorate('adminServer', undefined)
    return
  }
  const adminSockets = new WeakSet<Socket>()
  app.addConstraintStrategy({
    name: 'entry',
    storage () {
      const handlers = new Map<unknown, Handler>()
      return { get: (entry: unknown) => handlers.get(entry) ?? null, set: (entry: unknown, handler: Handler) => { handlers.set(entry, handler) } }
    },
    deriveConstraint: (request: { socket: Socket }): Entry => adminSockets.has(request.socket) ? 'admin' : 'main',
    mustMatchWhenDerived: true
  })
  const server = createServer((request, response) => { app.routing(request, response) })
  server.on('connection', (socket: Socket) => { adminSockets.add(socket) })
  server.on('clientError', clientErrorHandler)
  app.decorate('adminServer', server)

  // listening once the app is ready, so that a taken port stops the start-up like a taken PORT does
  app.addHook('onReady', async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, app.config.HOST, () => { server.off('error', reject); resolve() })
    })
  })
  app.addHook('preClose', async () => {
    server.close()
    server.closeIdleConnections()
  })
  // a connection still open once the app has closed has nothing left to wait for
  app.addHook('onClose', async () => { server.closeAllConnections() })
}, { name: 'admin-port', dependencies: ['config'] })

/** The route constraints of one entry: none when there is no admin port. */
export function entryConstraints (scope: FastifyInstance, entry: Entry): { entry: Entry } | undefined {
  return scope.adminServer === undefined ? undefined : { entry }
}

/** Constrains every route registered in `scope` from now on to one entry, when there is an admin port. */
export function servedOn (scope: FastifyInstance, entry: Entry): void {
  const constraints = entryConstraints(scope, entry)
  if (constraints === undefined) return
  scope.addHook('onRoute', (route) => { route.constraints = { ...route.constraints, ...constraints } })
}
