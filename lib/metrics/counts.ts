import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client'

/*
 * The balancer's counts as plain numbers, and how counts from several
 * processes (a cluster's workers) add up.
 */

/** What the balancer has counted for one replica hostname since it started. */
export interface ReplicaCounts {
  /** proxied requests answered by (or on behalf of) this replica */
  requests: number
  /** those answered 5xx, plus attempts that failed here and were retried elsewhere */
  errors: number
  /** requests sent on to the next replica because this one did not answer */
  retries: number
  respawns: number
  heartbeatFailures: number
  /** tunnels (upgraded connections) opened to this replica, and closed again */
  tunnelsOpened: number
  tunnelsClosed: number
  /** of those closed, the ones the balancer closed because their key had moved to another replica */
  tunnelsMoved: number
  /** bytes passed through its tunnels, each way */
  tunnelBytesToReplica: number
  tunnelBytesToClient: number
}

/** What a cluster worker has counted, for the primary's /stats and /metrics. */
export interface WorkerReport {
  pid: number
  /** the sum of the workers that have exited, up to what each last reported */
  exited?: true
  counts: Array<[string, ReplicaCounts]>
  inFlight: Array<[string, number]>
  metrics: Array<MetricObjectWithValues<MetricValue<string>>>
}

export const zero = (): ReplicaCounts => ({
  requests: 0,
  errors: 0,
  retries: 0,
  respawns: 0,
  heartbeatFailures: 0,
  tunnelsOpened: 0,
  tunnelsClosed: 0,
  tunnelsMoved: 0,
  tunnelBytesToReplica: 0,
  tunnelBytesToClient: 0
})

function add (into: ReplicaCounts, c: ReplicaCounts): void {
  for (const field of Object.keys(into) as Array<keyof ReplicaCounts>) into[field] += c[field]
}

/** Every hostname's counts in one sum. */
export function sumAll (counts: Iterable<ReplicaCounts>): ReplicaCounts {
  const sum = zero()
  for (const c of counts) add(sum, c)
  return sum
}

/** Per-hostname counts from several processes, added up by hostname (into new objects). */
export function sumByHostname (counts: Iterable<[string, ReplicaCounts]>): Map<string, ReplicaCounts> {
  const sums = new Map<string, ReplicaCounts>()
  for (const [hostname, c] of counts) {
    const into = sums.get(hostname) ?? zero()
    add(into, c)
    sums.set(hostname, into)
  }
  return sums
}

/**
 * Adds a dead worker's last report to the sum of those before it: its counts,
 * and its ringlb_ counters and histogram (not its process gauges, which died
 * with it), so that the cluster's sums never go back.
 */
export async function foldReports (sum: WorkerReport | undefined, last: WorkerReport): Promise<WorkerReport> {
  const counts = sumByHostname([...(sum?.counts ?? []), ...last.counts])
  const own = last.metrics.filter(metric => metric.name.startsWith('ringlb_'))
  const metrics = sum === undefined ? own : await AggregatorRegistry.aggregate([sum.metrics, own]).getMetricsAsJSON()
  return { pid: 0, exited: true, counts: [...counts], inFlight: [], metrics }
}
