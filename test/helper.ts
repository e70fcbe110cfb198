import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import ringlb, { type AppOptions, serverOptions } from '../app.js'
import { loadConfig } from '../lib/config.js'

/** Settings for tests: fast heartbeats, quiet logs, and whatever the test overrides. */
export function testEnv (overrides: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_LEVEL: 'silent',
    LB_HEARTBEAT_MS: '200',
    LB_HEARTBEAT_TIMEOUT_MS: '500',
    LB_DRAIN_MS: '2000',
    // a replica forked from TypeScript source through tap's loader takes seconds to start on a busy machine
    LB_READY_TIMEOUT_MS: '60000',
    ...overrides
  }
}

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * Builds the balancer (real replica processes unless a driver is given),
 * ready, closed when the test ends; serving TLS when `env` sets LB_TLS_CERT
 * and LB_TLS_KEY, as server.ts does.
 */
export async function build (t: Teardown, env: Record<string, string> = {}, extra: Omit<AppOptions, 'env'> = {}): Promise<FastifyInstance> {
  const config = loadConfig(testEnv(env))
  const app = Fastify(serverOptions(config))
  // fp() lifts the app's decorators (ring, replicas, config) to the instance tests hold
  await app.register(fp(ringlb), { config, ...extra })
  t.teardown(async () => await app.close())
  await app.ready()
  return app
}

/** Polls `check` every `stepMs` until it holds; throws, naming `what`, after `ms`. */
export async function until (what: string, check: () => boolean | Promise<boolean>, ms = 20_000, stepMs = 50): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(stepMs)
  }
}

/** The replica origins a proxy transport keeps a pool for, with their open connections, as /metrics reports them. */
export async function upstreamConnections (app: FastifyInstance, transport: 'fast-path' | 'undici'): Promise<Map<string, number>> {
  const metric = await app.metrics.registry.getSingleMetric('ringlb_upstream_connections')?.get()
  return new Map((metric?.values ?? []).filter(v => v.labels.transport === transport).map(v => [String(v.labels.origin), v.value]))
}
