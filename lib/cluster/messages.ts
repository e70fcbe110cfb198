import type { ReplicaHandle } from '../replicas/drivers/driver.js'
import type { WorkerReport } from '../metrics/counts.js'

/*
 * What a clustered balancer's processes say to each other over node:cluster's
 * IPC channel. The primary owns the replicas and the ring; workers serve the
 * port, each routing on a copy of the ring that it builds from the primary's
 * ordered log of ring changes, so every copy is the primary's ring exactly
 * (the assignment scheme's map depends on the order of adds and removes).
 */

/** One change to the ring, numbered in the order the primary made it. */
export type RingChange =
  | { seq: number, op: 'add', member: ReplicaHandle }
  /** `failed`: it left because it failed, so requests waiting on it are cut, not awaited */
  | { seq: number, op: 'remove', hostname: string, failed?: boolean }

/** A route of the balancer's own: a worker relays it to the primary. */
export interface OwnRoute {
  methods: string[]
  url: string
}

export type ToWorker =
  /** the answer to hello: where the primary listens, its routes, and every ring change so far */
  | { type: 'ringlb:init', primary: string, routes: OwnRoute[], changes: RingChange[] }
  | { type: 'ringlb:ring', change: RingChange }
  | { type: 'ringlb:report', id: number }
  /** stop accepting, finish what is in flight, exit */
  | { type: 'ringlb:close' }

export type ToPrimary =
  /** the worker listens for messages now: it is sent its `init` */
  | { type: 'ringlb:hello' }
  /** a replica did not answer a proxied request */
  | { type: 'ringlb:failure', hostname: string }
  /** nothing is in flight any more to a replica the change `seq` removed */
  | { type: 'ringlb:idle', hostname: string, seq: number }
  | { type: 'ringlb:report', id: number, report: WorkerReport }

/** A message of ours (IPC also carries node:cluster's own). */
export function isOurs<T extends { type: string }> (message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('ringlb:')
}
