import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import ringlb, { options } from './app.js'
import { ConfigError, loadConfig } from './lib/config.js'

/*
 * `npm start`: the balancer on PORT (5000), with graceful shutdown: on SIGTERM
 * or SIGINT it stops accepting, lets in-flight requests finish, then stops
 * process replicas (container replicas are kept for the next balancer to adopt).
 */
let config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`ringlb: ${err.message}`)
  process.exit(1)
}

const app = Fastify({ ...options, logger: { level: config.LOG_LEVEL } })
await app.register(ringlb, { config })

closeWithGrace({ delay: config.LB_DRAIN_MS + 5000 }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

await app.listen({ port: config.PORT, host: config.HOST })
