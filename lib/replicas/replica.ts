import type { Driver, ReplicaHandle } from './drivers/driver.js'
import type { Ring } from '../rings/index.js'

/*
 * What the replica manager (manager.ts) keeps of each replica, what it is
 * given, and what it tells: the types the rest of the balancer reads it by;
 * and the manager's rules that need no state of its own (crash backoff, failure messages).
 */

export type ReplicaState = 'starting' | 'healthy' | 'draining' | 'failed'

export interface Replica extends ReplicaHandle {
  state: ReplicaState
  /** heartbeats missed in a row */
  misses: number
  /** times this replica was replaced after failing */
  restarts: number
  /** failures in a row that came soon after a (re)start: drives the respawn backoff */
  crashes: number
  healthySince: number
}

export interface Logger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

export interface ReplicaManagerOptions {
  driver: Driver
  /** the ring the proxy routes on: the manager keeps it to the healthy replicas */
  ring: Ring<ReplicaHandle>
  log: Logger
  /** replicas to keep running */
  target: number
  maxReplicas: number
  heartbeatMs: number
  heartbeatTimeoutMs: number
  /** heartbeats missed in a row before a replica is taken out */
  heartbeatMisses: number
  /** the path a heartbeat asks (LB_HEALTH_PATH); any 2xx or 3xx is healthy */
  healthPath?: string
  /** how long a new replica has to pass its first heartbeat */
  readyTimeoutMs: number
  /** how long /rm waits for in-flight requests before stopping a replica */
  drainMs: number
  /** whether requests to a replica are still in flight outside this manager's `load` (a cluster's workers) */
  busyElsewhere?: (hostname: string) => boolean
}

export interface ReplicaManagerEvents {
  /** a replica entered the ring */
  join: [Replica]
  /** a replica left the ring (removed, or failed) */
  leave: [Replica, string]
  /** a replica left the ring because it failed (after its 'leave'): requests waiting on it will get no answer */
  fail: [Replica]
  /** a failed replica was replaced */
  respawn: [Replica]
  /** a heartbeat failed */
  miss: [Replica]
}

/** A failure soon after a start counts as a crash loop, and backs off. */
const CRASH_WINDOW_MS = 10_000
const MAX_BACKOFF_MS = 30_000

/** The replica's crashes in a row once it failed: one more when it failed within the crash window of its start, else this one alone. */
export function crashesAfterFailure (replica: Pick<Replica, 'crashes' | 'healthySince'>, now: number): number {
  return now - replica.healthySince < CRASH_WINDOW_MS ? replica.crashes + 1 : 1
}

/** No wait after a first crash; then 0.5 s, doubling up to 30 s. */
export function respawnDelayMs (crashes: number): number {
  return crashes <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** (crashes - 2))
}

/**
 * Replicas that failed, each reason said once: three replicas of a missing
 * image are `'a', 'b', 'c': No such image ...`, not the engine's sentence three times.
 */
export function failureList (failures: Array<{ name: string, reason: string }>): string {
  const byReason = new Map<string, string[]>()
  for (const { name, reason } of failures) byReason.set(reason, [...(byReason.get(reason) ?? []), `'${name}'`])
  return [...byReason].map(([reason, names]) => `${names.join(', ')}: ${reason}`).join('; ')
}
