import swagger from '@fastify/swagger'
import fp from 'fastify-plugin'

/**
 * The OpenAPI document, built from the routes' TypeBox schemas. Registered
 * before any route so that it sees them all. Only tagged routes are API: the
 * proxy's catch-all, the 405 answers and the static files carry no tags.
 */
export default fp(async (app) => {
  await app.register(swagger, {
    hideUntagged: true,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ringlb',
        description: 'A consistent-hashing HTTP load balancer. These are the balancer\'s own routes; every other path is proxied to the replica that owns the request\'s id (query `id`, else header `x-request-id`).',
        version: '0.1.0'
      },
      tags: [
        { name: 'info', description: 'Liveness, the replica set, where an id goes' },
        { name: 'admin', description: 'Change the replica set (needs the admin token when LB_ADMIN_TOKEN is set)' },
        { name: 'observability', description: 'Metrics, counts, the ring, the dashboard' }
      ],
      components: {
        securitySchemes: {
          adminToken: { type: 'http', scheme: 'bearer', description: 'The value of LB_ADMIN_TOKEN; required only when it is set' }
        }
      }
    }
  })
}, { name: 'openapi' })
