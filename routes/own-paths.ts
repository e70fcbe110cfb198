import type { FastifyPluginAsync } from 'fastify'
import { entryConstraints, servedOn } from '../plugins/admin-port.js'
import { METHODS } from '../plugins/own-routes.js'

/**
 * Registers the balancer's own routes and claims their paths for every method:
 * a wrong method on /rep answers 405 here instead of being proxied to a replica.
 * With LB_ADMIN_PORT, all of them are served on that port only.
 */
const ownPaths: FastifyPluginAsync<{ routes: FastifyPluginAsync[] }> = async (app, { routes }) => {
  servedOn(app, 'admin')
  const constraints = entryConstraints(app, 'admin')
  const urls = new Set<string>()
  app.addHook('onRoute', (route) => { urls.add(route.url) })
  for (const plugin of routes) await app.register(plugin)
  for (const url of [...urls]) {
    // ask the router: a prefixed '/' route (/docs) also gets a trailing-slash twin that onRoute does not report
    const methods = METHODS.filter(method => app.hasRoute({ method, url, constraints }))
    const allow = methods.join(', ')
    const others = METHODS.filter(m => !methods.includes(m))
    if (others.length === 0) continue
    app.route({
      method: others,
      url,
      handler: async (request, reply) => await reply.code(405).header('allow', allow).send({
        message: `<Error> method ${request.method} is not allowed on ${url}; use ${allow}`,
        status: 'failure'
      })
    })
  }
}

export default ownPaths
