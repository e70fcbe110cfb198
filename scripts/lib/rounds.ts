import { cpuMs } from './cpu.js'
import { type Measurement, measure, median } from './load.js'

/** A server under test and the process whose CPU it costs (with its children: nginx's worker, a cluster's workers). */
export interface Target { name: string, url: string, pid: number, withChildren: boolean }

export interface RoundOptions {
  rounds: number
  /** seconds of load before each measurement, not counted */
  warmup: number
  /** seconds measured */
  duration: number
  connections: number
}

export interface Summary extends Measurement {
  /** CPU of the target's own processes per request, µs (median over the rounds) */
  cpuUs: number
}

/**
 * Measures every target in interleaved rounds, each round starting one target
 * later so that none always runs first or last on a machine whose load drifts,
 * and returns the medians (errors summed over the rounds).
 */
export async function interleave (targets: Target[], options: RoundOptions): Promise<Map<string, Summary>> {
  const runs = new Map<string, Array<Measurement & { cpuUs: number }>>(targets.map(t => [t.name, []]))
  const width = Math.max(...targets.map(t => t.name.length))
  for (let round = 0; round < options.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length])
    for (const target of order) {
      await measure(target.url, { connections: options.connections, duration: options.warmup })
      const before = cpuMs(target.pid, target.withChildren)
      const m = await measure(target.url, { connections: options.connections, duration: options.duration })
      const cpuUs = (cpuMs(target.pid, target.withChildren) - before) * 1000 / (m.rps * options.duration)
      runs.get(target.name)?.push({ ...m, cpuUs })
      console.log(`round ${round + 1}/${options.rounds} ${target.name.padEnd(width)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  errors ${m.errors}  ${cpuUs.toFixed(0)} µs CPU/request`)
    }
  }
  const summaries = new Map<string, Summary>()
  for (const [name, list] of runs) {
    summaries.set(name, {
      rps: Math.round(median(list.map(m => m.rps))),
      p50: median(list.map(m => m.p50)),
      p99: median(list.map(m => m.p99)),
      errors: list.reduce((sum, m) => sum + m.errors, 0),
      cpuUs: median(list.map(m => m.cpuUs))
    })
  }
  return summaries
}

/** The medians as a table, with each target's req/s and p99 against `baseName`'s when it was measured. */
export function printTable (summaries: Map<string, Summary>, baseName: string): void {
  const base = summaries.get(baseName)
  const width = Math.max(22, ...[...summaries.keys()].map(name => name.length + 1))
  console.log(['target'.padEnd(width), 'req/s'.padStart(8), 'p50 ms'.padStart(7), 'p99 ms'.padStart(7), 'errors'.padStart(7),
    `×${baseName}`.padStart(9), `p99−${baseName}`.padStart(12), 'µs CPU/req'.padStart(11)].join(' '))
  for (const [name, m] of summaries) {
    const ratio = base === undefined ? '' : (m.rps / base.rps).toFixed(2)
    const p99Delta = base === undefined ? '' : `${m.p99 - base.p99 >= 0 ? '+' : ''}${(m.p99 - base.p99).toFixed(1)}`
    console.log([name.padEnd(width), m.rps.toFixed(0).padStart(8), m.p50.toFixed(1).padStart(7), m.p99.toFixed(1).padStart(7),
      String(m.errors).padStart(7), ratio.padStart(9), p99Delta.padStart(12), m.cpuUs.toFixed(0).padStart(11)].join(' '))
  }
}
