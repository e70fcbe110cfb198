import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { balancerChildren, childPids, startBalancer, startReplica, stop } from './lib/processes.js'
import { type Target, interleave, printTable } from './lib/rounds.js'
import { startReference } from './bench/upstreams.js'

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
const options = { duration: Number(flags.duration), warmup: Number(flags.warmup), rounds: Number(flags.rounds), connections: Number(flags.connections) }
const only = flags.only?.split(',')

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
  const replicaPids = (): number[] => replicas.map(r => r.child.pid as number)
  // direct: the replica is the target itself, with nothing behind it
  if (wanted('direct')) targets.push({ name: 'direct', url: replicas[0].url, pids: () => [replicas[0].child.pid as number], replicas: () => [] })

  for (const name of ['nginx', 'haproxy'] as const) {
    if (!wanted(name)) continue
    const server = await startReference(name, dir, replicaPorts)
    if (server === undefined) continue
    children.push(server.child)
    const pid = server.child.pid as number
    // nginx's master forks the worker that does the work
    targets.push({ name, url: server.url, pids: () => [pid, ...childPids(pid)], replicas: replicaPids })
  }

  const schemes: Array<[string, Record<string, string>]> = [
    ['ringlb-maglev', { LB_HASH: 'maglev' }],
    ['ringlb-ring', { LB_HASH: 'ring' }],
    ['ringlb-assignment', { LB_HASH: 'assignment' }],
    ['ringlb-maglev-bounded', { LB_HASH: 'maglev', LB_BALANCE_FACTOR: '1.25' }],
    // a node:cluster: a primary keeping the replicas, two workers proxying on copies of its ring
    ['ringlb-maglev-2-workers', { LB_HASH: 'maglev', LB_WORKERS: '2' }]
  ]
  for (const [name, env] of schemes) {
    if (!wanted(name)) continue
    const balancer = await startBalancer(env, join(dir, `${name}.log`))
    children.push(balancer.child)
    const pid = balancer.child.pid as number
    // its own replica processes are its children, as are a cluster's workers
    targets.push({ name, url: balancer.url, pids: () => [pid, ...balancerChildren(pid).others], replicas: () => balancerChildren(pid).replicas })
  }
  return targets
}

try {
  const [one, five, fifteen] = loadavg()
  console.log(`load average before: ${one.toFixed(2)} ${five.toFixed(2)} ${fifteen.toFixed(2)}; ${options.rounds} rounds × ${options.warmup} s warm-up + ${options.duration} s, ${options.connections} connections`)
  const targets = await setUp()
  const summaries = await interleave(targets, options, 'nginx')
  console.log(`\nmedians of ${options.rounds} rounds (×nginx: of the ratios within each round; errors: total over all rounds; CPU per request: the proxy's own processes, its replicas', this script's autocannon; busy: the whole machine)`)
  printTable(summaries, 'nginx')
  // the shape the issue gives bench/results.json
  const results = Object.fromEntries([...summaries].map(([name, { rps, p50, p99, errors }]) => [name, { rps, p50, p99, errors }]))
  const [after1, after5, after15] = loadavg()
  console.log(`load average after: ${after1.toFixed(2)} ${after5.toFixed(2)} ${after15.toFixed(2)}`)
  await mkdir(join(flags.out, '..'), { recursive: true })
  await writeFile(flags.out, JSON.stringify(results, null, 2) + '\n')
  console.log(`wrote ${flags.out}`)
} finally {
  await cleanUp()
}
