import swaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsync } from 'fastify'

/** The OpenAPI document at /docs/json (and /docs/yaml), browsable at /docs. */
const docsRoutes: FastifyPluginAsync = async (app) => {
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } })
}

export default docsRoutes
