import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
import { readLogLevel } from './read-log-level.js'

/** `npm run build` copies dashboard/ next to the compiled routes, so this path holds from source and from dist/. */
const root = fileURLToPath(new URL('../dashboard/', import.meta.url))

/** The operator's page: static HTML and JS that read /stats and /ring and call the admin API. */
const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const logLevel = readLogLevel(app.log)
  await app.register(fastifyStatic, { root, prefix: '/dashboard/', logLevel })
  app.get('/dashboard', {
    logLevel,
    schema: {
      tags: ['observability'],
      summary: 'The live dashboard: the ring, each replica\'s health and request rate, add and remove buttons',
      produces: ['text/html'],
      response: { 200: { type: 'string', description: 'an HTML page' } }
    }
  }, async (_request, reply) => await reply.sendFile('index.html'))
}

export default dashboardRoutes
