import { fileURLToPath } from 'node:url'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import ringlb, { options, serverOptions } from './app.js'
import { commandLine } from './lib/cli.js'
import { Workers } from './lib/cluster/primary.js'
import { type Config, loadConfig } from './lib/config.js'
import { startUpFailure } from './lib/start-up-failure.js'

/*
 * `npm start`: the balancer on PORT (5000), with graceful shutdown: on SIGTERM
 * or SIGINT it stops accepting, lets in-flight requests finish, then stops
 * process replicas (container replicas are kept for the next balancer to adopt).
 * With LB_WORKERS > 1 it is a node:cluster: this process (the primary) keeps
 * the replicas, the ring and the balancer's own routes on a port of its own
 * (loopback, or LB_ADMIN_PORT), and its workers (worker.ts) serve PORT.
 * Whatever stops it before it serves is one line on stderr and exit code 1.
 */
const asked = commandLine(process.argv.slice(2))
if (asked !== undefined) {
  process[asked.stream].write(`${asked.text}\n`)
  process.exit(asked.exitCode)
}

/** Says what went wrong in one line, stops what was started (at most a few seconds), and exits. */
async function fail (line: string, stop: () => Promise<unknown>, code = 1): Promise<never> {
  console.error(`ringlb: ${line}`)
  await Promise.race([stop().catch(() => {}), new Promise(resolve => setTimeout(resolve, 5000).unref())])
  process.exit(code)
}

function readConfig (): Config {
  try {
    return loadConfig(process.env)
  } catch (err) {
    console.error(`ringlb: ${startUpFailure(err, { PORT: 0, HOST: '' })}`)
    process.exit(1)
  }
}
const config = readConfig()

const clustered = config.LB_WORKERS > 1
// a cluster's workers serve PORT (with TLS if set); its primary, only them (or LB_ADMIN_PORT, in plain HTTP)
const app = Fastify({ ...(clustered ? options : serverOptions(config)), logger: { level: config.LOG_LEVEL } })
const workers = clustered
  ? new Workers({
    count: config.LB_WORKERS,
    exec: fileURLToPath(new URL('./worker.js', import.meta.url)),
    log: app.log.child({ component: 'workers' }),
    closeTimeoutMs: config.LB_DRAIN_MS + 1000
  })
  : undefined

// Ctrl-C (or a service manager's stop) while the replicas start: process replicas exit with the
// balancer (their IPC channel closes) and container replicas stay for the next start to adopt
const stopEarly = (signal: NodeJS.Signals): void => {
  void fail(`stopped before it was ready (${signal} while starting; process replicas are stopped, containers kept for the next start)`,
    async () => { await workers?.close() }, signal === 'SIGINT' ? 130 : 143)
}
process.once('SIGINT', stopEarly)
process.once('SIGTERM', stopEarly)

try {
  // fp(): the app's decorators (ownRoutes above all) on this instance
  await app.register(fp(ringlb), { config, cluster: workers === undefined ? undefined : { role: 'primary', workers } })
} catch (err) {
  process.off('SIGINT', stopEarly).off('SIGTERM', stopEarly)
  await fail(startUpFailure(err, config), async () => { await app.close() })
}
process.off('SIGINT', stopEarly).off('SIGTERM', stopEarly)

// From here a signal closes gracefully (a cluster's first workers may serve while the others start).
// A cluster closes twice over: its workers first (their requests), then this app (its replicas).
const closing = workers === undefined ? config.LB_DRAIN_MS + 5000 : 2 * config.LB_DRAIN_MS + 6000
closeWithGrace({ delay: closing }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await workers?.close()
  await app.close()
})

try {
  if (workers === undefined) {
    await app.listen({ port: config.PORT, host: config.HOST })
  } else {
    // with LB_ADMIN_PORT, the primary serves the balancer's own routes there, and the workers proxy every path
    const admin = config.LB_ADMIN_PORT === undefined ? { port: 0, host: '127.0.0.1' } : { port: config.LB_ADMIN_PORT, host: config.HOST }
    await app.listen(admin)
    const address = app.server.address()
    if (address === null || typeof address !== 'object') throw new Error('the primary has no address')
    // the workers relay the balancer's own routes here (none with an admin port)
    await workers.start(`http://127.0.0.1:${address.port}`, app.ownRoutes.routes())
    app.log.info({ workers: config.LB_WORKERS, port: config.PORT }, 'workers listening')
  }
} catch (err) {
  await fail(startUpFailure(err, config), async () => {
    await workers?.close()
    await app.close()
  })
}
