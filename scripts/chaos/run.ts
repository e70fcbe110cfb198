import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomIdLoad } from '../lib/load.js'
import { freePort } from '../../lib/free-port.js'
import { BalancerProcess } from './balancer.js'
import { type Victim, type Victims, dockerMissing, dockerVictims, pidRunning, processVictims } from './victims.js'

export interface ChaosOptions {
  driver: 'process' | 'docker'
  /** seconds of load */
  duration: number
  connections: number
  /** replicas killed during the load */
  kills: number
  /** seconds between kills; the kills are spread over the run by default */
  interval?: number
  /** replicas the balancer keeps */
  replicas: number
  /** the balancer's port; 0 picks a free one */
  port: number
  /** how soon after a kill the count must be back to target */
  recoverMs: number
  /** more settings for the balancer (LB_*) */
  env?: Record<string, string>
  /** progress lines */
  log?: (line: string) => void
}

export interface KillRecord {
  hostname: string
  /** PID or container id */
  ref: string
  /** seconds into the load */
  at: number
  /** from the kill to the first /rep without the replica */
  ringUpdateMs?: number
  /** from the kill to /rep showing the target count again, the replica back under its name */
  backToTargetMs?: number
}

export interface ChaosReport {
  driver: ChaosOptions['driver']
  url: string
  sent: number
  completed: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  /** a few of the request errors, for diagnosis */
  errorSamples: string[]
  statusCodes: Record<string, number>
  kills: KillRecord[]
  /** the workers serving the port at the end of the load, by /stats (0: one process, LB_WORKERS=1) */
  workers: number
  /** the balancer's exit code after SIGTERM */
  exitCode: number | null
  /** replicas still running after the balancer stopped: none for processes, all of them for containers (kept for adoption) */
  afterStop: string[]
  balancerLogs: string[]
}

/** The run failed if any request failed, a kill was not made, or the count was not back in time. */
export function failures (report: ChaosReport, options: Pick<ChaosOptions, 'kills' | 'recoverMs'>): string[] {
  const problems: string[] = []
  if (report.non2xx > 0 || report.errors > 0) problems.push(`${report.non2xx + report.errors} requests failed (${report.non2xx} non-2xx, ${report.errors} errors)`)
  if (report.kills.length < options.kills) problems.push(`only ${report.kills.length} of ${options.kills} kills were made`)
  for (const kill of report.kills) {
    if (kill.backToTargetMs === undefined || kill.backToTargetMs > options.recoverMs) {
      problems.push(`${kill.hostname} killed at ${kill.at.toFixed(1)} s: count not back to target within ${options.recoverMs} ms`)
    }
  }
  if (report.exitCode !== 0) problems.push(`the balancer exited with code ${report.exitCode} on SIGTERM`)
  if (report.driver === 'process' && report.afterStop.length > 0) problems.push(`replica processes still running after the balancer stopped: ${report.afterStop.join(', ')}`)
  return problems
}

/**
 * Watches /rep after a kill: when the replica leaves the ring, and when the
 * count is back to target with the replica's name in it again.
 */
async function watchRecovery (balancer: BalancerProcess, victim: Victim, killedAt: number, target: number, limitMs: number): Promise<Pick<KillRecord, 'ringUpdateMs' | 'backToTargetMs'>> {
  let ringUpdateMs: number | undefined
  while (performance.now() - killedAt < limitMs) {
    const set = await balancer.replicaSet().catch(() => undefined)
    const elapsed = Math.round(performance.now() - killedAt)
    if (set !== undefined) {
      const present = set.replicas.includes(victim.hostname)
      if (!present && ringUpdateMs === undefined) ringUpdateMs = elapsed
      if (ringUpdateMs !== undefined && present && set.N === target) return { ringUpdateMs, backToTargetMs: elapsed }
    }
    await sleep(10)
  }
  return { ringUpdateMs }
}

/**
 * Starts the balancer as a real process, drives /home?id=<random 6 digits>
 * with autocannon, and kills a replica (SIGKILL / docker kill) every few
 * seconds, timing how soon the ring drops it and the count is back.
 */
export async function runChaos (options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {})
  const instance = `chaos-${randomBytes(4).toString('hex')}`
  const port = options.port === 0 ? await freePort('127.0.0.1') : options.port
  if (options.driver === 'docker') {
    const missing = await dockerMissing(options.env?.LB_IMAGE ?? 'ringlb:latest')
    if (missing !== undefined) throw new Error(`chaos --driver docker: ${missing}`)
  }
  const balancer = BalancerProcess.start({
    LB_DRIVER: options.driver,
    LB_REPLICAS: String(options.replicas),
    // this run's own containers: labelled and named by the instance, removed at the end
    LB_INSTANCE: instance,
    ...(options.driver === 'docker' ? { LB_CONTAINER_PREFIX: `${instance}-` } : {}),
    ...options.env
  }, port)
  const victims: Victims = options.driver === 'docker' ? dockerVictims(instance) : processVictims(balancer.pid)
  try {
    await balancer.ready(options.replicas, options.driver === 'docker' ? 120_000 : 30_000)
    const interval = options.interval ?? options.duration / (options.kills + 1)
    log(`ringlb chaos: ${options.driver} driver, ${options.replicas} replicas, ${options.connections} connections for ${options.duration} s, ${options.kills} kills every ${interval.toFixed(1)} s, on ${balancer.url}`)

    const errorSamples: string[] = []
    const { instance: load, result } = randomIdLoad(balancer.url, options)
    load.on('reqError', (err: Error) => { if (errorSamples.length < 10) errorSamples.push(err.message) })
    const loadStart = performance.now()

    const kills: KillRecord[] = []
    for (let i = 0; i < options.kills; i++) {
      const due = loadStart + (i + 1) * interval * 1000
      // a kill after the load ended would prove nothing: it counts as not made
      if (due >= loadStart + options.duration * 1000) break
      await sleep(Math.max(0, due - performance.now()))
      const alive = await victims.list()
      if (alive.length === 0) break
      const victim = alive[Math.floor(Math.random() * alive.length)]
      const killedAt = performance.now()
      await victims.kill(victim)
      const record: KillRecord = { hostname: victim.hostname, ref: victim.ref, at: (killedAt - loadStart) / 1000 }
      Object.assign(record, await watchRecovery(balancer, victim, killedAt, options.replicas, Math.max(options.recoverMs * 3, 15_000)))
      kills.push(record)
      log(`kill ${i + 1}: ${victim.hostname} (${victims.kind === 'process' ? 'pid' : 'container'} ${victim.ref}) at ${record.at.toFixed(1)} s: ` +
        `out of the ring after ${record.ringUpdateMs ?? '?'} ms, count back to ${options.replicas} after ${record.backToTargetMs ?? 'never'} ms`)
    }

    const res = await result
    const statusCodes = Object.fromEntries(Object.entries(res.statusCodeStats ?? {}).map(([code, { count }]) => [code, Number(count ?? 0)]))
    const before = await victims.list()
    const stats = await (await fetch(`${balancer.url}/stats`)).json() as { workers: unknown[] }
    const exitCode = await balancer.stop()
    const afterStop = victims.kind === 'process'
      ? before.filter(v => pidRunning(Number(v.ref))).map(v => v.hostname)
      : (await victims.list()).map(v => v.hostname)
    return {
      driver: options.driver,
      url: balancer.url,
      sent: res.requests.sent,
      completed: res.requests.total,
      ok: res['2xx'],
      non2xx: res.non2xx,
      errors: res.errors,
      timeouts: res.timeouts,
      errorSamples,
      statusCodes,
      kills,
      workers: stats.workers.length,
      exitCode,
      afterStop,
      balancerLogs: balancer.logs()
    }
  } finally {
    await balancer.stop()
    await victims.cleanup()
  }
}
