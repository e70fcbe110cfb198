import { fileURLToPath } from 'node:url'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import ringlb, { options, serverOptions } from './app.js'
import { Workers } from './lib/cluster/primary.js'
import { ConfigError, loadConfig } from './lib/config.js'

/*
 * `npm start`: the balancer on PORT (5000), with graceful shutdown: on SIGTERM
 * or SIGINT it stops accepting, lets in-flight requests finish, then stops
 * process replicas (container replicas are kept for the next balancer to adopt).
 * With LB_WORKERS > 1 it is a node:cluster: this process (the primary) keeps
 * the replicas, the ring and the balancer's own routes on a loopback port of
 * its own, and its workers (worker.ts) serve PORT.
 */
let config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`ringlb: ${err.message}`)
  process.exit(1)
}

const clustered = config.LB_WORKERS > 1
// a cluster's workers serve PORT (with TLS if set); its primary, only them on loopback
const app = Fastify({ ...(clustered ? options : serverOptions(config)), logger: { level: config.LOG_LEVEL } })
const workers = clustered
  ? new Workers({
    count: config.LB_WORKERS,
    exec: fileURLToPath(new URL('./worker.js', import.meta.url)),
    log: app.log.child({ component: 'workers' }),
    closeTimeoutMs: config.LB_DRAIN_MS + 1000
  })
  : undefined
// fp(): the app's decorators (ownRoutes above all) on this instance
await app.register(fp(ringlb), { config, cluster: workers === undefined ? undefined : { role: 'primary', workers } })

// a cluster closes twice over: its workers first (their requests), then this app (its replicas)
const closing = workers === undefined ? config.LB_DRAIN_MS + 5000 : 2 * config.LB_DRAIN_MS + 6000
closeWithGrace({ delay: closing }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await workers?.close()
  await app.close()
})

if (workers === undefined) {
  await app.listen({ port: config.PORT, host: config.HOST })
} else {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address !== 'object') throw new Error('the primary has no address')
  // the workers relay the balancer's own routes here
  await workers.start(`http://127.0.0.1:${address.port}`, app.ownRoutes.routes())
  app.log.info({ workers: config.LB_WORKERS, port: config.PORT }, 'workers listening')
}
