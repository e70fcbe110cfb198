import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuMs } from './lib/cpu.js'
import { type Measurement, measure, median } from './lib/load.js'
import { freePort } from '../lib/free-port.js'
import { startBalancer, startForeground, startReplica, stop } from './lib/processes.js'
import { findBinary, haproxy, nginx } from './bench/upstreams.js'

/*
 * `npm run bench`: req/s and latency of ringlb against one replica directly,
 * nginx and HAProxy over three replica processes, all on loopback, in
 * interleaved rounds; medians are printed and written to bench/results.json.
 */
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench/results.json' }
  }
})
const duration = Number(flags.duration)
const warmup = Number(flags.warmup)
const rounds = Number(flags.rounds)
const connections = Number(flags.connections)
const only = flags.only?.split(',')

/** A target and the process whose CPU it costs: the proxy itself (with nginx's worker), not the replicas. */
interface Target { name: string, url: string, pid: number, withChildren: boolean }

const children: ChildProcess[] = []
const dir = await mkdtemp(join(tmpdir(), 'ringlb-bench-'))

async function cleanUp (): Promise<void> {
  await Promise.all(children.map(async child => { await stop(child) }))
  await rm(dir, { recursive: true, force: true })
}
process.once('SIGINT', () => { void cleanUp().then(() => process.exit(130)) })

async function setUp (): Promise<Target[]> {
  const wanted = (name: string): boolean => only === undefined || only.includes(name)
  const targets: Target[] = []
  const replicas = await Promise.all([0, 1, 2].map(async id => await startReplica(id)))
  children.push(...replicas.map(r => r.child))
  const replicaPorts = replicas.map(r => r.port)
  if (wanted('direct')) targets.push({ name: 'direct', url: replicas[0].url, pid: replicas[0].child.pid as number, withChildren: false })

  for (const [name, build] of [['nginx', nginx], ['haproxy', haproxy]] as const) {
    if (!wanted(name)) continue
    const binary = findBinary(name)
    if (binary === undefined) {
      console.log(`note: ${name} is not installed; skipped (Debian: apt-get install -y ${name === 'nginx' ? 'nginx-light' : 'haproxy'})`)
      continue
    }
    const port = await freePort('127.0.0.1')
    const upstream = await build(binary, dir, port, replicaPorts)
    const server = await startForeground(upstream.command, upstream.args, port)
    children.push(server)
    targets.push({ name, url: `http://127.0.0.1:${port}`, pid: server.pid as number, withChildren: name === 'nginx' })
  }

  const schemes: Array<[string, Record<string, string>]> = [
    ['ringlb-maglev', { LB_HASH: 'maglev' }],
    ['ringlb-ring', { LB_HASH: 'ring' }],
    ['ringlb-assignment', { LB_HASH: 'assignment' }],
    ['ringlb-maglev-bounded', { LB_HASH: 'maglev', LB_BALANCE_FACTOR: '1.25' }]
  ]
  for (const [name, env] of schemes) {
    if (!wanted(name)) continue
    const balancer = await startBalancer(env, join(dir, `${name}.log`))
    children.push(balancer.child)
    targets.push({ name, url: balancer.url, pid: balancer.child.pid as number, withChildren: false })
  }
  return targets
}

function format (name: string, m: Measurement, base: Measurement | undefined, us: number): string {
  const ratio = base === undefined ? '' : (m.rps / base.rps).toFixed(2)
  const p99Delta = base === undefined ? '' : `${m.p99 - base.p99 >= 0 ? '+' : ''}${(m.p99 - base.p99).toFixed(1)}`
  return [name.padEnd(22), m.rps.toFixed(0).padStart(8), m.p50.toFixed(1).padStart(7), m.p99.toFixed(1).padStart(7),
    String(m.errors).padStart(7), ratio.padStart(9), p99Delta.padStart(12), us.toFixed(0).padStart(11)].join(' ')
}

try {
  const [one, five, fifteen] = loadavg()
  console.log(`load average before: ${one.toFixed(2)} ${five.toFixed(2)} ${fifteen.toFixed(2)}; ${rounds} rounds × ${warmup} s warm-up + ${duration} s, ${connections} connections`)
  const targets = await setUp()
  const runs = new Map<string, Measurement[]>(targets.map(t => [t.name, []]))
  const cpu = new Map<string, number[]>(targets.map(t => [t.name, []]))
  for (let round = 0; round < rounds; round++) {
    // each round starts one target later, so no target always runs first or last
    const order = targets.map((_, i) => targets[(i + round) % targets.length])
    for (const target of order) {
      await measure(target.url, { connections, duration: warmup })
      const before = cpuMs(target.pid, target.withChildren)
      const m = await measure(target.url, { connections, duration })
      const us = (cpuMs(target.pid, target.withChildren) - before) * 1000 / (m.rps * duration)
      runs.get(target.name)?.push(m)
      cpu.get(target.name)?.push(us)
      console.log(`round ${round + 1}/${rounds} ${target.name.padEnd(22)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  errors ${m.errors}  ${us.toFixed(0)} µs CPU/request`)
    }
  }
  const results: Record<string, Measurement> = {}
  for (const [name, list] of runs) {
    results[name] = {
      rps: Math.round(median(list.map(m => m.rps))),
      p50: median(list.map(m => m.p50)),
      p99: median(list.map(m => m.p99)),
      errors: list.reduce((sum, m) => sum + m.errors, 0)
    }
  }
  const base = results.nginx
  console.log(`\nmedians of ${rounds} rounds (errors: total over all rounds; CPU: the proxy process itself, not the replicas)`)
  console.log(['target'.padEnd(22), 'req/s'.padStart(8), 'p50 ms'.padStart(7), 'p99 ms'.padStart(7), 'errors'.padStart(7), '×nginx'.padStart(9), 'p99−nginx'.padStart(12), 'µs CPU/req'.padStart(11)].join(' '))
  for (const [name, m] of Object.entries(results)) console.log(format(name, m, base, median(cpu.get(name) ?? [])))
  const [after1, after5, after15] = loadavg()
  console.log(`load average after: ${after1.toFixed(2)} ${after5.toFixed(2)} ${after15.toFixed(2)}`)
  await mkdir(join(flags.out, '..'), { recursive: true })
  await writeFile(flags.out, JSON.stringify(results, null, 2) + '\n')
  console.log(`wrote ${flags.out}`)
} finally {
  await cleanUp()
}
