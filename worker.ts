import Fastify, { type FastifyInstance } from 'fastify'
import ringlb, { serverOptions } from './app.js'
import { type OwnRoute, type ToPrimary, type ToWorker, isOurs } from './lib/cluster/messages.js'
import { RingMirror } from './lib/cluster/ring-mirror.js'
import { type Config, ConfigError, loadConfig, ringOptions } from './lib/config.js'
import { BalancerMetrics } from './lib/metrics/metrics.js'
import type { ReplicaHandle } from './lib/replicas/drivers/driver.js'
import { createRing } from './lib/rings/index.js'

/*
 * A worker of a clustered balancer (LB_WORKERS > 1), forked by server.ts's
 * primary: it serves PORT beside its siblings (node:cluster hands each a share
 * of the connections), proxies on its copy of the primary's ring, and relays
 * the balancer's own routes to the primary. It is the same app (app.ts) in
 * the worker's role. It changes its ring only as the primary's numbered
 * changes say, from the first message on, so no request is routed on a ring
 * the primary never had.
 */
let config: Config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`ringlb worker: ${err.message}`)
  process.exit(1)
}

// a primary that has just gone makes a send fail (EPIPE): the callback takes the error, and 'disconnect' ends the worker
const send = (message: ToPrimary): void => { if (process.connected) process.send?.(message, undefined, undefined, () => {}) }
const mirror = new RingMirror(createRing<ReplicaHandle>(ringOptions(config)), send)
const metrics = new BalancerMetrics()
const REPORT_EVERY_MS = 5000
let app: FastifyInstance | undefined

const drainMs = config.LB_DRAIN_MS

async function shutDown (): Promise<void> {
  // requests still streaming past the primary's own deadline for its workers are cut
  setTimeout(() => { process.exit(1) }, drainMs + 1000).unref()
  await app?.close()
  process.exit(0)
}

/** A ring that cannot follow the primary's any more must not route: the primary forks a worker that starts from the whole log. */
function applyOrExit (apply: () => void): void {
  try {
    apply()
  } catch (err) {
    console.error(`ringlb worker ${process.pid}: ${(err as Error).message}`)
    process.exit(1)
  }
}

const started = new Promise<{ primary: string, routes: OwnRoute[] }>(resolve => {
  process.on('message', (message: unknown) => {
    if (!isOurs<ToWorker>(message)) return
    switch (message.type) {
      case 'ringlb:init':
        applyOrExit(() => { mirror.replay(message.changes) })
        resolve(message)
        return
      case 'ringlb:ring':
        applyOrExit(() => { mirror.apply(message.change) })
        return
      case 'ringlb:report':
        void metrics.report(mirror.load).then(report => { send({ type: 'ringlb:report', id: message.id, report }) })
        return
      case 'ringlb:close':
        void shutDown()
    }
  })
})
send({ type: 'ringlb:hello' })
// the primary is gone: nobody keeps this worker's ring true any more
process.once('disconnect', () => { void shutDown() })
// Ctrl-C, and a service manager's SIGTERM, reach the whole process group: the primary
// decides when its workers close (ringlb:close), so that it never forks new ones meanwhile.
// Without a primary, the signals close the worker.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { if (!process.connected) void shutDown() })
// counts sent unasked, so that a worker that dies suddenly loses a few seconds of them at most
setInterval(() => { void metrics.report(mirror.load).then(report => { send({ type: 'ringlb:report', id: 0, report }) }) }, REPORT_EVERY_MS).unref()

const { primary, routes } = await started
// the primary's routes come with their HEAD twins named: the worker adds none of its own
app = Fastify({ ...serverOptions(config), logger: { level: config.LOG_LEVEL }, exposeHeadRoutes: false })
await app.register(ringlb, { config, cluster: { role: 'worker', mirror, metrics, primary, routes } })
await app.listen({ port: config.PORT, host: config.HOST })
