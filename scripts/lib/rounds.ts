import { readFileSync } from 'node:fs'
import { cpuMs } from './cpu.js'
import { type LoadOptions, type Measurement, measure, median } from './load.js'

/**
 * A server under test, the processes whose CPU it costs (nginx's master and
 * worker, a cluster's primary and workers), and the replica processes behind
 * it, both read at each measurement (a balancer may have replaced a replica).
 */
export interface Target {
  name: string
  url: string
  pids: () => number[]
  replicas: () => number[]
  /** the load it is measured under: autocannon's HTTP requests unless it says otherwise (WebSocket echoes) */
  measure?: (url: string, options: LoadOptions) => Promise<Measurement>
}

/** What a table's figures count: requests (autocannon) unless a target's own load says otherwise. */
export interface Units {
  /** per second: 'req/s', 'msg/s' */
  rate: string
  /** the load generator in this script's process */
  generator: string
}

const HTTP: Units = { rate: 'req/s', generator: 'autocannon' }

export interface RoundOptions {
  rounds: number
  /** seconds of load before each measurement, not counted */
  warmup: number
  /** seconds measured */
  duration: number
  connections: number
}

/** Where the machine's CPU went during a measurement, per request (µs) and in all. */
interface CpuShare {
  /** the target's own processes */
  cpuUs: number
  /** the replicas behind it */
  replicaUs: number
  /** this process: autocannon, which runs in it */
  loadUs: number
  /** the share of the machine's CPU time that was busy, 0..1 */
  busy: number
}

export interface Summary extends Measurement, CpuShare {
  /**
   * req/s against the baseline's in the same round, median over the rounds:
   * this machine's speed drifts from one minute to the next, and a ratio
   * within a round sees less of the drift than a ratio of medians
   */
  ratio: number | undefined
}

/** Busy and total CPU time of the whole machine so far, in /proc/stat's ticks. */
function machineTicks (): { busy: number, total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
  const total = ticks.reduce((sum, t) => sum + t, 0)
  // idle and iowait
  return { busy: total - ticks[3] - ticks[4], total }
}

/** CPU ms of `pids` together; one that has exited meanwhile counts no more (a bench kills none). */
function sumCpuMs (pids: number[]): number {
  return pids.reduce((sum, pid) => {
    try {
      return sum + cpuMs(pid)
    } catch {
      return sum
    }
  }, 0)
}

/** Runs `run` and says where the CPU went meanwhile, per request of the `requests` it reports. */
async function accountCpu (target: Target, run: () => Promise<Measurement>, seconds: number): Promise<Measurement & CpuShare> {
  const replicas = target.replicas()
  const pids = target.pids()
  const machine = machineTicks()
  const own = sumCpuMs(pids)
  const behind = sumCpuMs(replicas)
  const load = process.cpuUsage()
  const m = await run()
  const requests = m.rps * seconds
  const loadUsed = process.cpuUsage(load)
  const after = machineTicks()
  return {
    ...m,
    cpuUs: (sumCpuMs(pids) - own) * 1000 / requests,
    replicaUs: (sumCpuMs(replicas) - behind) * 1000 / requests,
    loadUs: (loadUsed.user + loadUsed.system) / requests,
    busy: (after.busy - machine.busy) / (after.total - machine.total)
  }
}

/**
 * Measures every target in interleaved rounds, each round starting one target
 * later so that none always runs first or last on a machine whose load drifts,
 * and returns the medians (errors summed over the rounds), with each target's
 * req/s against `baseName`'s round by round.
 */
export async function interleave (targets: Target[], options: RoundOptions, baseName: string, units: Units = HTTP): Promise<Map<string, Summary>> {
  const runs = new Map<string, Array<Measurement & CpuShare>>(targets.map(t => [t.name, []]))
  const width = Math.max(...targets.map(t => t.name.length))
  for (let round = 0; round < options.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length])
    for (const target of order) {
      const load = target.measure ?? measure
      await load(target.url, { connections: options.connections, duration: options.warmup })
      const m = await accountCpu(target, async () => await load(target.url, { connections: options.connections, duration: options.duration }), options.duration)
      runs.get(target.name)?.push(m)
      console.log(`round ${round + 1}/${options.rounds} ${target.name.padEnd(width)} ${m.rps.toFixed(0).padStart(7)} ${units.rate}  p50 ${m.p50.toFixed(1)} ms  p99 ${m.p99.toFixed(1)} ms  errors ${m.errors}  ` +
        `CPU µs/${units.rate.split('/')[0]}: ${m.cpuUs.toFixed(0)} proxy, ${m.replicaUs.toFixed(0)} replicas, ${m.loadUs.toFixed(0)} ${units.generator}; machine ${(m.busy * 100).toFixed(0)}% busy`)
    }
  }
  const base = runs.get(baseName)
  const summaries = new Map<string, Summary>()
  for (const [name, list] of runs) {
    summaries.set(name, {
      ratio: base === undefined ? undefined : median(list.map((m, round) => m.rps / base[round].rps)),
      rps: Math.round(median(list.map(m => m.rps))),
      p50: median(list.map(m => m.p50)),
      p99: median(list.map(m => m.p99)),
      errors: list.reduce((sum, m) => sum + m.errors, 0),
      cpuUs: median(list.map(m => m.cpuUs)),
      replicaUs: median(list.map(m => m.replicaUs)),
      loadUs: median(list.map(m => m.loadUs)),
      busy: median(list.map(m => m.busy))
    })
  }
  return summaries
}

/**
 * The medians as a table, with each target's req/s (round by round) and p99
 * against `baseName`'s when it was measured, and where the CPU went per request.
 */
export function printTable (summaries: Map<string, Summary>, baseName: string, units: Units = HTTP): void {
  const base = summaries.get(baseName)
  const width = Math.max(22, ...[...summaries.keys()].map(name => name.length + 1))
  console.log(['target'.padEnd(width), units.rate.padStart(8), 'p50 ms'.padStart(7), 'p99 ms'.padStart(7), 'errors'.padStart(7),
    `×${baseName}`.padStart(9), `p99−${baseName}`.padStart(12), `CPU µs/${units.rate.slice(0, 3)}: proxy`.padStart(18), 'replicas'.padStart(9), units.generator.padStart(11), 'busy'.padStart(5)].join(' '))
  for (const [name, m] of summaries) {
    const ratio = m.ratio === undefined ? '' : m.ratio.toFixed(2)
    const p99Delta = base === undefined ? '' : `${m.p99 - base.p99 >= 0 ? '+' : ''}${(m.p99 - base.p99).toFixed(1)}`
    console.log([name.padEnd(width), m.rps.toFixed(0).padStart(8), m.p50.toFixed(1).padStart(7), m.p99.toFixed(1).padStart(7),
      String(m.errors).padStart(7), ratio.padStart(9), p99Delta.padStart(12), m.cpuUs.toFixed(0).padStart(18), m.replicaUs.toFixed(0).padStart(9),
      m.loadUs.toFixed(0).padStart(11), `${(m.busy * 100).toFixed(0)}%`.padStart(5)].join(' '))
  }
}
