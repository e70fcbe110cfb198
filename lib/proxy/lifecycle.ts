import { performance } from 'node:perf_hooks'
import { badAnswerMessage, noAnswerMessage } from '../errors.js'
import { pickBounded } from '../rings/bounded-load.js'
import type { Member, Ring } from '../rings/index.js'
import type { InFlight } from './in-flight.js'
import { type HashKeySource, keyHeaders } from './key-sources.js'
import { DEFAULT_SOURCES, type KeyInputs, requestKey } from './request-key.js'

/*
 * The one place a proxied request's fate is decided, whichever transport
 * carries its bytes (the fast path's own sockets, or the undici forwarder
 * behind Fastify): its key; the replica that owns the key on the ring, with
 * bounded loads; the attempt counted in flight and out; when the replica does
 * not answer, the report to the health checker and, for an idempotent method,
 * one retry on the next replica in the scheme's preference order; otherwise
 * the 502 or 504 the client gets; and the counts. A transport only moves bytes
 * and tells its ProxiedRequest what happened.
 */

/** A replica as the proxy sees it: a ring member with an origin to send to. */
export interface ProxyTarget extends Member {
  /** the replica's origin, e.g. http://127.0.0.1:40123 */
  readonly url: string
}

/**
 * What the proxy needs of the replica set: the ring it routes on, the requests
 * in flight, where to report a replica that did not answer, and word of a
 * replica leaving (its connections go, at once when it failed) or joining. The replica manager is one; a cluster
 * worker's copy of the primary's ring is the other (../cluster/ring-mirror.ts).
 */
export interface Backends<R extends ProxyTarget> {
  readonly ring: Ring<R>
  readonly load: InFlight
  reportFailure: (hostname: string) => void
  /**
   * `leave`: out of the ring, its requests may finish; `fail` (after its `leave`): it failed, and its requests will not;
   * `join`: into the ring (the keys that moved follow: tunnels)
   */
  on: (event: 'leave' | 'fail' | 'join', listener: (replica: R) => void) => unknown
}

/** The error requests still waiting on a failed replica end with: a reset connection, so an idempotent one is retried. */
export function replicaFailed (): Error {
  return Object.assign(new Error('the replica failed while the request waited for its answer'), { code: 'ECONNRESET' })
}

/** What the lifecycle counts, per replica hostname. */
export interface ProxyCounts {
  answered: (hostname: string, statusCode: number, seconds: number) => void
  broken: (hostname: string) => void
  retried: (hostname: string) => void
}

export interface LifecycleOptions<R extends ProxyTarget> {
  ring: Ring<R>
  load: InFlight
  /** bounded loads' factor (LB_BALANCE_FACTOR); 0 always picks the owner */
  balanceFactor: number
  /** a replica that did not answer, for the health checker to probe now */
  reportFailure: (hostname: string) => void
  counts: ProxyCounts
  /** where a request's key comes from (LB_HASH_KEY); the default when not given */
  hashKey?: readonly HashKeySource[]
}

/** The answer the client gets when there is no replica at all (503). */
export const NO_REPLICAS = 'no replicas are available'

/** Methods safe to send twice: an attempt that got no answer is retried on the next replica. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
/** Failures that mean the replica took too long, not that it refused: 504 rather than 502. */
const TIMEOUTS = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT'])

/** The error answer a transport writes, in the contract's shape. */
export interface ErrorAnswer {
  statusCode: 502 | 504
  message: string
}

export class Lifecycle<R extends ProxyTarget> {
  readonly hashKey: readonly HashKeySource[]
  /** the headers a transport that parses heads itself must read for the key */
  readonly keyHeaders: ReadonlySet<string>
  /** the query parameters the key may come from: a transport need parse a query only when it names one */
  readonly keyParameters: readonly string[]

  constructor (readonly options: LifecycleOptions<R>) {
    this.hashKey = options.hashKey ?? DEFAULT_SOURCES
    this.keyHeaders = keyHeaders(this.hashKey)
    this.keyParameters = this.hashKey.flatMap(source => source.kind === 'query' ? [source.name] : [])
  }

  /** The replica a request with this key goes to now, bounded loads included; undefined when the ring is empty. */
  pick (key: number): R | undefined {
    const { ring, balanceFactor, load } = this.options
    return balanceFactor > 0 ? pickBounded(ring, key, balanceFactor, hostname => load.get(hostname), load.total) : ring.lookup(key)
  }

  /** Where a request that `failed` did not answer is tried once more: the next distinct replica in the scheme's order. */
  retryOn (key: number, failed: R): R | undefined {
    return this.options.ring.preference(key).find(replica => replica !== failed)
  }

  /** A request arrives: its first attempt, counted in flight; undefined when there is no replica (answer 503, NO_REPLICAS). */
  begin (source: KeyInputs, method: string): ProxiedRequest<R> | undefined {
    const key = requestKey(source, this.hashKey)
    const replica = this.pick(key)
    return replica === undefined ? undefined : new ProxiedRequest(this, key, IDEMPOTENT.has(method), replica)
  }
}

/** One proxied request, from its first attempt to its answer: what the transport reports, and what it is told to do. */
export class ProxiedRequest<R extends ProxyTarget> {
  private retried = false
  private attempting = true
  private readonly started = performance.now()

  private readonly options: LifecycleOptions<R>

  constructor (
    private readonly lifecycle: Lifecycle<R>,
    readonly key: number,
    private readonly idempotent: boolean,
    /** the replica of the attempt under way (or of the last one) */
    public replica: R
  ) {
    this.options = lifecycle.options
    this.options.load.inc(replica.hostname)
  }

  /** The replica's answer went to the client whole. */
  answered (statusCode: number): void {
    this.end()
    this.options.counts.answered(this.replica.hostname, statusCode, this.seconds())
  }

  /**
   * The replica did not answer at all (refused, reset, timed out before its
   * answer began): it is reported, and the request goes on to the replica
   * returned as `retry`, or ends with the error answer returned.
   */
  noAnswer (code: string): { retry: R } | ErrorAnswer {
    this.end()
    const failed = this.replica
    this.options.reportFailure(failed.hostname)
    const next = this.retried || !this.idempotent ? undefined : this.lifecycle.retryOn(this.key, failed)
    if (next === undefined) return this.fail(TIMEOUTS.has(code) ? 504 : 502, noAnswerMessage(failed.hostname, code))
    this.options.counts.retried(failed.hostname)
    this.retried = true
    this.replica = next
    this.attempting = true
    this.options.load.inc(next.hostname)
    return { retry: next }
  }

  /** The replica answered with something that cannot be passed on: a 502, not retried (it did answer). */
  badAnswer (reason: string): ErrorAnswer {
    this.end()
    return this.fail(502, badAnswerMessage(this.replica.hostname, reason))
  }

  /** The answer broke off midway; the transport closes the client's connection, as nginx does. */
  broken (): void {
    this.end()
    this.options.counts.broken(this.replica.hostname)
    this.options.reportFailure(this.replica.hostname)
  }

  /**
   * The replica switched protocols (101): counted as answered, with the
   * handshake's time, and still in flight while the tunnel lasts, so that a
   * drain waits for it and bounded loads see it.
   */
  upgraded (): void {
    this.options.counts.answered(this.replica.hostname, 101, this.seconds())
  }

  /** The upgraded connection's tunnel closed: it is no longer in flight. */
  tunnelClosed (): void {
    this.end()
  }

  /** The client left before its answer was whole: it is owed nothing, and nothing is counted. */
  clientGone (): void {
    this.end()
  }

  private fail (statusCode: 502 | 504, message: string): ErrorAnswer {
    this.options.counts.answered(this.replica.hostname, statusCode, this.seconds())
    return { statusCode, message }
  }

  private end (): void {
    if (!this.attempting) return
    this.attempting = false
    this.options.load.dec(this.replica.hostname)
  }

  private seconds (): number {
    return (performance.now() - this.started) / 1000
  }
}
