import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { InFlight } from '../proxy/in-flight.js'
import type { Replica, ReplicaState } from '../replicas/replica.js'
import { type ReplicaCounts, type WorkerReport, sumAll, sumByHostname, zero } from './counts.js'
import { VERSION } from '../version.js'

/** Where the gauges read the balancer's state at scrape time. */
export interface MetricsSources {
  /** every replica, whatever its state */
  replicas: () => Replica[]
  ringSize: () => number
  /** each ring member's fraction of the key space */
  shares: () => Map<string, number>
  /** the ring's digest (../rings/digest.ts) */
  digest: () => string
  /** a clustered balancer's workers, which count the requests they proxy: asked when the counts are read */
  workers?: () => Promise<WorkerReport[]>
}

/** Counts read at one moment, the workers' added in when the balancer is a cluster. */
export interface Tally {
  of: (hostname: string) => Readonly<ReplicaCounts>
  totals: () => ReplicaCounts
  /** requests in flight in the workers */
  inFlight: (hostname: string) => number
  /** each worker's share of the proxied requests */
  workers: Array<{ pid: number, requests: number, inFlight: number }>
}

const STATES: ReplicaState[] = ['starting', 'healthy', 'draining', 'failed']

/** Proxy latencies from sub-millisecond (local replicas) to the proxy timeout. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/**
 * The balancer's metrics in a registry of its own, so several balancers in one
 * process (tests) never share counters. Per-replica counts are plain numbers
 * bumped once per proxied request; prom-client reads them only when scraped.
 * Counts outlive their replica: a hostname added again continues its series.
 * A cluster worker's metrics have no `sources`: the replica set and the ring
 * are the primary's to report, and the worker's counts reach it in `report`.
 */
export class BalancerMetrics {
  readonly registry = new Registry()
  private readonly counts = new Map<string, ReplicaCounts>()
  private readonly latency: Histogram
  private readonly workers: (() => Promise<WorkerReport[]>) | undefined

  constructor (sources?: MetricsSources) {
    this.workers = sources?.workers
    const counts = this.counts
    const perReplica = (name: string, help: string, field: keyof ReplicaCounts): void => {
      const counter: Counter<'replica'> = new Counter({
        name,
        help,
        labelNames: ['replica'],
        registers: [this.registry],
        collect () {
          counter.reset()
          for (const [replica, c] of counts) counter.inc({ replica }, c[field])
        }
      })
    }
    perReplica('ringlb_proxy_requests_total', 'Proxied requests, by the replica that answered them', 'requests')
    perReplica('ringlb_proxy_errors_total', 'Proxied requests answered 5xx, plus attempts that failed and were retried, by replica', 'errors')
    perReplica('ringlb_proxy_retries_total', 'Requests retried on the next replica because this one did not answer', 'retries')
    perReplica('ringlb_replica_respawns_total', 'Times a failed replica was replaced under the same hostname', 'respawns')
    perReplica('ringlb_heartbeat_failures_total', 'Heartbeats a replica failed to answer in time', 'heartbeatFailures')
    perReplica('ringlb_tunnels_total', 'Tunnels (upgraded connections: WebSocket) opened to each replica', 'tunnelsOpened')
    perReplica('ringlb_tunnels_moved_total', 'Tunnels the balancer closed because a ring change moved their key to another replica', 'tunnelsMoved')
    const tunnelsOpen: Gauge<'replica'> = new Gauge({
      name: 'ringlb_tunnels_open',
      help: 'Tunnels open now, by replica',
      labelNames: ['replica'],
      registers: [this.registry],
      collect () {
        tunnelsOpen.reset()
        for (const [replica, c] of counts) tunnelsOpen.set({ replica }, c.tunnelsOpened - c.tunnelsClosed)
      }
    })
    const tunnelBytes: Counter<'replica' | 'direction'> = new Counter({
      name: 'ringlb_tunnel_bytes_total',
      help: 'Bytes passed through tunnels, by replica and direction (to_replica, to_client)',
      labelNames: ['replica', 'direction'],
      registers: [this.registry],
      collect () {
        tunnelBytes.reset()
        for (const [replica, c] of counts) {
          tunnelBytes.inc({ replica, direction: 'to_replica' }, c.tunnelBytesToReplica)
          tunnelBytes.inc({ replica, direction: 'to_client' }, c.tunnelBytesToClient)
        }
      }
    })

    this.latency = new Histogram({
      name: 'ringlb_proxy_duration_seconds',
      help: 'Time from a proxied request arriving to its answer leaving the balancer',
      buckets: LATENCY_BUCKETS,
      registers: [this.registry]
    })

    collectDefaultMetrics({ register: this.registry })
    if (sources === undefined) return

    const buildInfo: Gauge<'version' | 'node'> = new Gauge({
      name: 'ringlb_build_info',
      help: 'Always 1; the labels say which ringlb and which Node.js run this balancer',
      labelNames: ['version', 'node'],
      registers: [this.registry]
    })
    buildInfo.set({ version: VERSION, node: process.version }, 1)
    const ringMembers: Gauge = new Gauge({
      name: 'ringlb_ring_members',
      help: 'Replicas in the hash ring (the healthy ones)',
      registers: [this.registry],
      collect () { ringMembers.set(sources.ringSize()) }
    })
    const share: Gauge<'replica'> = new Gauge({
      name: 'ringlb_ring_share_ratio',
      help: 'Fraction of the key space each ring member owns',
      labelNames: ['replica'],
      registers: [this.registry],
      collect () {
        share.reset()
        for (const [replica, fraction] of sources.shares()) share.set({ replica }, fraction)
      }
    })
    const digest: Gauge<'digest'> = new Gauge({
      name: 'ringlb_ring_digest_info',
      help: 'Always 1; its digest label fingerprints how the ring routes: equal on two balancers exactly when they route every key alike',
      labelNames: ['digest'],
      registers: [this.registry],
      collect () {
        digest.reset()
        digest.set({ digest: sources.digest() }, 1)
      }
    })
    const byState: Gauge<'state'> = new Gauge({
      name: 'ringlb_replicas',
      help: 'Replicas the balancer runs, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect () {
        const replicas = sources.replicas()
        for (const state of STATES) byState.set({ state }, replicas.filter(r => r.state === state).length)
      }
    })
  }

  /** Reads, at scrape time, the connections each transport of the proxy keeps open to each replica origin. */
  watchConnections (open: () => Array<{ transport: string, origins: Map<string, number> }>): void {
    const gauge: Gauge<'transport' | 'origin'> = new Gauge({
      name: 'ringlb_upstream_connections',
      help: 'Connections open to each replica origin, by the proxy transport that keeps them (fast-path, undici)',
      labelNames: ['transport', 'origin'],
      registers: [this.registry],
      collect () {
        gauge.reset()
        for (const { transport, origins } of open()) {
          for (const [origin, n] of origins) gauge.set({ transport, origin }, n)
        }
      }
    })
  }

  /** Starts a replica's series at zero, so that it shows before its first request. */
  track (hostname: string): void {
    this.countsFor(hostname)
  }

  /** A proxied request was answered: called once per request, so it allocates nothing it can avoid. */
  answered (hostname: string, statusCode: number, seconds: number): void {
    const c = this.countsFor(hostname)
    c.requests++
    if (statusCode >= 500) c.errors++
    this.latency.observe(seconds)
  }

  /** This replica's answer broke off midway (the client got part of it). */
  broken (hostname: string): void {
    const c = this.countsFor(hostname)
    c.requests++
    c.errors++
  }

  /** This replica did not answer and the request was sent on to the next one. */
  retried (hostname: string): void {
    const c = this.countsFor(hostname)
    c.retries++
    c.errors++
  }

  respawned (hostname: string): void {
    this.countsFor(hostname).respawns++
  }

  /** A tunnel to this replica opened; the counts it keeps while open, to add bytes to as they pass. */
  tunnelOpened (hostname: string): ReplicaCounts {
    const c = this.countsFor(hostname)
    c.tunnelsOpened++
    return c
  }

  /** A tunnel to this replica closed; `moved` when the balancer closed it because its key moved. */
  tunnelClosed (hostname: string, moved: boolean): void {
    const c = this.countsFor(hostname)
    c.tunnelsClosed++
    if (moved) c.tunnelsMoved++
  }

  missedHeartbeat (hostname: string): void {
    this.countsFor(hostname).heartbeatFailures++
  }

  of (hostname: string): Readonly<ReplicaCounts> {
    return this.counts.get(hostname) ?? zero()
  }

  /** Sums over every hostname ever counted, removed replicas included. */
  totals (): ReplicaCounts {
    return sumAll(this.counts.values())
  }

  /** The counts now, the workers' included. */
  async tally (): Promise<Tally> {
    const reports = await this.workers?.() ?? []
    if (reports.length === 0) return { of: h => this.of(h), totals: () => this.totals(), inFlight: () => 0, workers: [] }
    const counts = sumByHostname([...this.counts, ...reports.flatMap(r => r.counts)])
    const inFlight = new Map<string, number>()
    for (const [hostname, n] of reports.flatMap(r => r.inFlight)) inFlight.set(hostname, (inFlight.get(hostname) ?? 0) + n)
    return {
      of: h => counts.get(h) ?? zero(),
      totals: () => sumAll(counts.values()),
      inFlight: h => inFlight.get(h) ?? 0,
      workers: reports.filter(r => r.exited !== true).map(r => ({
        pid: r.pid,
        requests: r.counts.reduce((sum, [, c]) => sum + c.requests, 0),
        inFlight: r.inFlight.reduce((sum, [, n]) => sum + n, 0)
      }))
    }
  }

  /** The Prometheus text, summed over the workers' registries too (prom-client's cluster aggregation). */
  async render (): Promise<string> {
    const reports = await this.workers?.() ?? []
    if (reports.length === 0) return await this.registry.metrics()
    const own = await this.registry.getMetricsAsJSON()
    return await AggregatorRegistry.aggregate([own, ...reports.map(r => r.metrics)]).metrics()
  }

  /** What a cluster worker tells the primary: its counts, its requests in flight and its registry. */
  async report (load: InFlight): Promise<WorkerReport> {
    return { pid: process.pid, counts: [...this.counts], inFlight: load.entries(), metrics: await this.registry.getMetricsAsJSON() }
  }

  private countsFor (hostname: string): ReplicaCounts {
    let c = this.counts.get(hostname)
    if (c === undefined) {
      c = zero()
      this.counts.set(hostname, c)
    }
    return c
  }
}
