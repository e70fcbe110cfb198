import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort } from '../lib/free-port.js'
import { childPids, forkServer, startReplica, stop } from './lib/processes.js'
import { type Target, interleave, printTable } from './lib/rounds.js'
import { startReference } from './bench/upstreams.js'

/*
 * `npm run bench:proxy`: how fast a Node proxy can be here, and what the proxy
 * library costs. Bare Fastify forwarding with @fastify/reply-from,
 * @fastify/http-proxy and ringlb's own forwarder (lib/proxy/forwarder.ts, what the
 * proxy plugin uses), the last also as a 2-worker node:cluster, and ringlb's
 * fast path (lib/proxy/fast-path/) on a bare net.Server, all choosing
 * the replica on the same maglev ring over three replica processes, against
 * nginx (1 worker) over the same replicas, in interleaved rounds.
 */
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' }
  }
})
const options = { duration: Number(flags.duration), warmup: Number(flags.warmup), rounds: Number(flags.rounds), connections: Number(flags.connections) }
const PROXY_SERVER = fileURLToPath(new URL('./bench/proxy-server.js', import.meta.url))

const children: ChildProcess[] = []
const dir = await mkdtemp(join(tmpdir(), 'ringlb-bench-proxy-'))
try {
  const replicas = await Promise.all([0, 1, 2].map(async id => await startReplica(id)))
  children.push(...replicas.map(r => r.child))
  const targets: Target[] = []
  const replicaPids = (): number[] => replicas.map(r => r.child.pid as number)
  const nginx = await startReference('nginx', dir, replicas.map(r => r.port))
  if (nginx !== undefined) {
    children.push(nginx.child)
    const pid = nginx.child.pid as number
    targets.push({ name: 'nginx', url: nginx.url, pids: () => [pid, ...childPids(pid)], replicas: replicaPids })
  }
  const variants: Array<[string, string, number]> = [['reply-from', 'reply-from', 1], ['http-proxy', 'http-proxy', 1], ['forward', 'forward', 1], ['forward-2-workers', 'forward', 2], ['fast-path', 'fast-path', 1]]
  for (const [name, lib, workers] of variants) {
    const port = workers > 1 ? await freePort('127.0.0.1') : 0
    const proxy = await forkServer(PROXY_SERVER, { PROXY_LIB: lib, WORKERS: String(workers), PORT: String(port), UPSTREAMS: replicas.map(r => r.url).join(',') })
    children.push(proxy.child)
    const pid = proxy.child.pid as number
    targets.push({ name, url: proxy.url, pids: () => [pid, ...childPids(pid)], replicas: replicaPids })
  }
  const baseName = nginx === undefined ? 'reply-from' : 'nginx'
  const summaries = await interleave(targets, options, baseName)
  console.log(`\nmedians of ${options.rounds} rounds, ${options.connections} connections, ${options.duration} s each (×${baseName}: of the ratios within each round; CPU per request: the proxy's own processes, the replicas', this script's autocannon; busy: the whole machine)`)
  printTable(summaries, baseName)
} finally {
  await Promise.all(children.map(async child => { await stop(child) }))
  await rm(dir, { recursive: true, force: true })
}
