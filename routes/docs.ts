import swaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsync } from 'fastify'
import { readLogLevel } from './read-log-level.js'

/** The OpenAPI document at /docs/json (and /docs/yaml), browsable at /docs. */
const docsRoutes: FastifyPluginAsync = async (app) => {
  const logLevel = readLogLevel(app.log)
  await app.register(swaggerUi, { routePrefix: '/docs', logLevel, uiConfig: { docExpansion: 'list', deepLinking: true } })
}

export default docsRoutes
