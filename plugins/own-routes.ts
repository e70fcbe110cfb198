import fp from 'fastify-plugin'
import type { OwnRoute } from '../lib/cluster/messages.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the balancer's own routes, collected once as they are registered: every other path is proxied */
    ownRoutes: OwnRoutes
  }
}

/** The balancer's own routes as the main port (PORT) sees them: none when LB_ADMIN_PORT serves them. */
export interface OwnRoutes {
  /** their paths, as registered (what the proxy leaves alone) */
  urls: () => string[]
  /** their paths and methods, trailing-slash twins included, once the app is ready (what a cluster's workers relay) */
  routes: () => OwnRoute[]
}

export const METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS']

/** Registered before the routes: it records every route the balancer answers itself. */
export default fp(async (app) => {
  const byUrl = new Map<string, Set<string>>()
  app.addHook('onRoute', ({ url, method }) => {
    const methods = byUrl.get(url) ?? new Set<string>()
    for (const m of [method].flat()) methods.add(m)
    byUrl.set(url, methods)
  })
  // with LB_ADMIN_PORT they answer there, and PORT has none: it proxies every path
  const onMainPort = app.config.LB_ADMIN_PORT === undefined
  app.decorate('ownRoutes', {
    urls: () => onMainPort ? [...byUrl.keys()] : [],
    routes: () => {
      if (!onMainPort) return []
      const routes = new Map([...byUrl].map(([url, methods]) => [url, [...methods]]))
      // a prefixed '/' route (/docs) has a trailing-slash twin that onRoute does not report (GET /docs/): the router knows it
      for (const url of [...byUrl.keys()].filter(url => !url.includes('*'))) {
        const methods = METHODS.filter(method => app.hasRoute({ method, url: `${url}/` }))
        if (methods.length > 0) routes.set(`${url}/`, methods)
      }
      return [...routes].map(([url, methods]) => ({ url, methods }))
    }
  })
}, { name: 'own-routes', dependencies: ['config'] })
