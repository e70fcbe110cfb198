import { fileURLToPath } from 'node:url'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import ringlb, { options } from './app.js'
import { ConfigError, loadConfig } from './lib/config.js'
import { Workers } from './lib/cluster/primary.js'
import { METHODS } from './routes/own-paths.js'

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

const app = Fastify({ ...options, logger: { level: config.LOG_LEVEL } })
const workers = config.LB_WORKERS > 1
  ? new Workers({
    count: config.LB_WORKERS,
    exec: fileURLToPath(new URL('./worker.js', import.meta.url)),
    log: app.log.child({ component: 'workers' }),
    closeTimeoutMs: config.LB_DRAIN_MS + 1000
  })
  : undefined
// the balancer's own routes, for the workers to relay here
const ownRoutes = new Map<string, Set<string>>()
app.addHook('onRoute', ({ url, method }) => {
  const methods = ownRoutes.get(url) ?? new Set<string>()
  for (const m of [method].flat()) methods.add(m)
  ownRoutes.set(url, methods)
})
await app.register(ringlb, { config, workers })

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
  // a prefixed '/' route (/docs) has a trailing-slash twin that onRoute does not report: the router knows it
  for (const url of [...ownRoutes.keys()].filter(url => !url.includes('*'))) {
    const methods = METHODS.filter(method => app.hasRoute({ method, url: `${url}/` }))
    if (methods.length > 0) ownRoutes.set(`${url}/`, new Set(methods))
  }
  await workers.start(`http://127.0.0.1:${address.port}`, [...ownRoutes].map(([url, methods]) => ({ url, methods: [...methods] })))
  app.log.info({ workers: config.LB_WORKERS, port: config.PORT }, 'workers listening')
}
