import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { makeCertificate } from './lib/certificate.js'
import { measureEcho } from './lib/echo-load.js'
import { balancerChildren, childPids, startBalancer, startReplica, stop } from './lib/processes.js'
import { type Summary, type Target, type Units, interleave, printTable } from './lib/rounds.js'
import { startReference } from './bench/upstreams.js'

/*
 * `npm run bench`: req/s and latency of ringlb against one replica directly,
 * nginx and HAProxy over three replica processes, all on loopback, in
 * interleaved rounds; then the same over TLS (ringlb and nginx, keep-alive, a
 * certificate made for the run), and WebSocket echo messages/s through each
 * (the replicas' /echo). Medians are printed and written to bench/results.json.
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
const certificate = makeCertificate()

async function cleanUp (): Promise<void> {
  await Promise.all(children.map(async child => { await stop(child) }))
  await rm(dir, { recursive: true, force: true })
  certificate.remove()
}
process.once('SIGINT', () => { void cleanUp().then(() => process.exit(130)) })

/** The tables a run prints, each against its own baseline. */
interface Group { title: string, base: string, units?: Units, targets: Target[] }

async function setUp (): Promise<Group[]> {
  const wanted = (name: string): boolean => only === undefined || only.includes(name)
  const http: Target[] = []
  const tls: Target[] = []
  const websocket: Target[] = []
  const replicas = await Promise.all([0, 1, 2].map(async id => await startReplica(id)))
  children.push(...replicas.map(r => r.child))
  const replicaPorts = replicas.map(r => r.port)
  const replicaPids = (): number[] => replicas.map(r => r.child.pid as number)
  const echo = { measure: measureEcho }
  // direct: the replica is the target itself, with nothing behind it
  const direct = { name: 'direct', url: replicas[0].url, pids: () => [replicas[0].child.pid as number], replicas: () => [] }
  if (wanted('direct')) http.push(direct)
  if (wanted('ws-direct')) websocket.push({ ...direct, name: 'ws-direct', ...echo })

  const references: Array<['nginx' | 'haproxy', boolean]> = [['nginx', false], ['haproxy', false], ['nginx', true]]
  for (const [name, secure] of references) {
    const label = secure ? `${name}-tls` : name
    const ws = !secure && name === 'nginx' && wanted('ws-nginx')
    if (!wanted(label) && !ws) continue
    const server = await startReference(name, dir, replicaPorts, secure ? certificate : undefined)
    if (server === undefined) continue
    children.push(server.child)
    const pid = server.child.pid as number
    // nginx's master forks the worker that does the work
    const target = { name: label, url: server.url, pids: () => [pid, ...childPids(pid)], replicas: replicaPids }
    if (wanted(label)) (secure ? tls : http).push(target)
    if (ws) websocket.push({ ...target, name: 'ws-nginx', ...echo })
  }

  const schemes: Array<[string, Record<string, string>]> = [
    ['ringlb-maglev', { LB_HASH: 'maglev' }],
    ['ringlb-ring', { LB_HASH: 'ring' }],
    ['ringlb-assignment', { LB_HASH: 'assignment' }],
    ['ringlb-maglev-bounded', { LB_HASH: 'maglev', LB_BALANCE_FACTOR: '1.25' }],
    // a node:cluster: a primary keeping the replicas, two workers proxying on copies of its ring
    ['ringlb-maglev-2-workers', { LB_HASH: 'maglev', LB_WORKERS: '2' }],
    ['ringlb-tls', { LB_HASH: 'maglev', LB_TLS_CERT: certificate.cert, LB_TLS_KEY: certificate.key }]
  ]
  for (const [name, env] of schemes) {
    const ws = name === 'ringlb-maglev' && wanted('ws-ringlb')
    if (!wanted(name) && !ws) continue
    const balancer = await startBalancer(env, join(dir, `${name}.log`))
    children.push(balancer.child)
    const pid = balancer.child.pid as number
    // its own replica processes are its children, as are a cluster's workers
    const target = { name, url: balancer.url, pids: () => [pid, ...balancerChildren(pid).others], replicas: () => balancerChildren(pid).replicas }
    if (wanted(name)) (name === 'ringlb-tls' ? tls : http).push(target)
    if (ws) websocket.push({ ...target, name: 'ws-ringlb', ...echo })
  }
  return [
    { title: 'HTTP/1.1, keep-alive', base: 'nginx', targets: http },
    { title: 'HTTP/1.1 over TLS, keep-alive (autocannon offers no ALPN: both answer HTTP/1.1)', base: 'nginx-tls', targets: tls },
    { title: 'WebSocket echo: 64-byte messages, each sent when the last one is back', base: 'ws-nginx', units: { rate: 'msg/s', generator: 'ws client' }, targets: websocket }
  ].filter(group => group.targets.length > 0)
}

try {
  const [one, five, fifteen] = loadavg()
  console.log(`load average before: ${one.toFixed(2)} ${five.toFixed(2)} ${fifteen.toFixed(2)}; ${options.rounds} rounds × ${options.warmup} s warm-up + ${options.duration} s, ${options.connections} connections`)
  const groups = await setUp()
  const all = new Map<string, Summary>()
  for (const { title, base, units, targets } of groups) {
    console.log(`\n${title}`)
    const summaries = await interleave(targets, options, base, units)
    console.log(`\n${title}: medians of ${options.rounds} rounds (×${base}: of the ratios within each round; errors: total over all rounds; CPU per ${units === undefined ? 'request' : 'message'}: the proxy's own processes, its replicas', this script's load generator; busy: the whole machine)`)
    printTable(summaries, base, units)
    for (const [name, summary] of summaries) all.set(name, summary)
  }
  // the shape the issue gives bench/results.json (a WebSocket target's rps is messages/s)
  const results = Object.fromEntries([...all].map(([name, { rps, p50, p99, errors }]) => [name, { rps, p50, p99, errors }]))
  const [after1, after5, after15] = loadavg()
  console.log(`load average after: ${after1.toFixed(2)} ${after5.toFixed(2)} ${after15.toFixed(2)}`)
  await mkdir(join(flags.out, '..'), { recursive: true })
  await writeFile(flags.out, JSON.stringify(results, null, 2) + '\n')
  console.log(`wrote ${flags.out}`)
} finally {
  await cleanUp()
}
