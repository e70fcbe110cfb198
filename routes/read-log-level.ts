import type { FastifyBaseLogger } from 'fastify'

/**
 * The log level of a route that only reads (/rep, /stats, /ready, ...): its
 * request lines are written at LOG_LEVEL=debug or trace and not otherwise,
 * since an open dashboard or an orchestrator's probe reads every second.
 * Fastify's route logLevel is a threshold, so `debug` there would show them
 * more, not less: below debug they get `warn`, which still lets errors through.
 */
export function readLogLevel (log: FastifyBaseLogger): 'warn' | undefined {
  return log.level === 'debug' || log.level === 'trace' ? undefined : 'warn'
}
