import { isIP } from 'node:net'
import fp from 'fastify-plugin'
import { configWarnings } from '../lib/config.js'
import { VERSION } from '../lib/version.js'

export interface StartUpReportOptions {
  /** the environment the configuration was read from: its `LB_` names that are no setting are warned about */
  env: Record<string, string | undefined>
  /** a cluster's primary: its workers serve PORT, it listens for the balancer's own routes only */
  clustered: boolean
}

/** Whether only this machine can reach an address. */
export function isLoopback (host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1'
}

/**
 * What an operator reads first in the log: warnings about the settings, then
 * one line saying what was started and where, once the balancer listens
 * (`npm start` and `fastify start dist/app.js` alike).
 */
export default fp<StartUpReportOptions>(async (app, { env, clustered }) => {
  const { config } = app
  for (const warning of configWarnings(env)) app.log.warn(warning)
  app.addHook('onListen', async () => {
    // where it listens (fastify-cli's -a and -p over HOST and PORT); a cluster's primary listens apart from its workers
    const address = app.server.address()
    const bound = clustered || address === null || typeof address === 'string' ? undefined : address
    const host = bound?.address ?? config.HOST
    const port = bound?.port ?? config.PORT
    // the admin routes are on the admin port, on HOST, or else on the main port
    const adminHost = config.LB_ADMIN_PORT === undefined ? host : config.HOST
    app.log.info({
      version: VERSION,
      driver: app.replicas.driver.name,
      scheme: config.LB_HASH,
      replicas: app.ring.size,
      address: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      fast_path: config.LB_FAST_PATH && !config.LB_ACCESS_LOG,
      workers: config.LB_WORKERS,
      admin_port: config.LB_ADMIN_PORT ?? null,
      admin_token: config.LB_ADMIN_TOKEN !== undefined
    }, `ringlb ${VERSION} started`)
    if (config.LB_ADMIN_TOKEN === undefined && !isLoopback(adminHost)) {
      app.log.warn({ host: adminHost, port: config.LB_ADMIN_PORT ?? port },
        `/add and /rm are open to anyone who can reach ${adminHost}: set LB_ADMIN_TOKEN, or HOST=127.0.0.1 to serve this machine only`)
    }
  })
}, { name: 'start-up-report', dependencies: ['config', 'ring', 'replicas'] })
