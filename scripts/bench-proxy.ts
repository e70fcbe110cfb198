import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpuMs } from './lib/cpu.js'
import { type Measurement, measure, median } from './lib/load.js'
import { forkServer, startReplica, stop } from './lib/processes.js'

/*
 * `npm run bench:proxy`: the proxy library question of the core issue, measured.
 * Bare Fastify with @fastify/reply-from (`getUpstream`) against
 * @fastify/http-proxy (`replyOptions.getUpstream`), both choosing the replica
 * on the same maglev ring over three replica processes, in interleaved rounds.
 */
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' }
  }
})
const options = { connections: Number(flags.connections), duration: Number(flags.duration) }
const PROXY_SERVER = fileURLToPath(new URL('./bench/proxy-server.js', import.meta.url))

const children: ChildProcess[] = []
try {
  const replicas = await Promise.all([0, 1, 2].map(async id => await startReplica(id)))
  children.push(...replicas.map(r => r.child))
  const upstreams = replicas.map(r => r.url).join(',')
  const targets = []
  for (const lib of ['reply-from', 'http-proxy']) {
    const proxy = await forkServer(PROXY_SERVER, { PROXY_LIB: lib, UPSTREAMS: upstreams })
    children.push(proxy.child)
    targets.push({ name: lib, url: proxy.url, pid: proxy.child.pid as number })
  }
  const runs = new Map<string, Measurement[]>(targets.map(t => [t.name, []]))
  const cpu = new Map<string, number[]>(targets.map(t => [t.name, []]))
  const rounds = Number(flags.rounds)
  for (let round = 0; round < rounds; round++) {
    for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
      await measure(target.url, { ...options, duration: Number(flags.warmup) })
      const before = cpuMs(target.pid)
      const m = await measure(target.url, options)
      const us = (cpuMs(target.pid) - before) * 1000 / (m.rps * options.duration)
      runs.get(target.name)?.push(m)
      cpu.get(target.name)?.push(us)
      console.log(`round ${round + 1}/${rounds} ${target.name.padEnd(11)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  errors ${m.errors}  ${us.toFixed(0)} µs CPU/request`)
    }
  }
  console.log(`\nmedians of ${rounds} rounds, ${options.connections} connections, ${options.duration} s each`)
  for (const [name, list] of runs) {
    console.log(`${name.padEnd(11)} ${median(list.map(m => m.rps)).toFixed(0).padStart(7)} req/s  p50 ${median(list.map(m => m.p50))} ms  p99 ${median(list.map(m => m.p99))} ms  errors ${list.reduce((s, m) => s + m.errors, 0)}  ${median(cpu.get(name) ?? []).toFixed(0)} µs CPU/request`)
  }
} finally {
  await Promise.all(children.map(async child => { await stop(child) }))
}
