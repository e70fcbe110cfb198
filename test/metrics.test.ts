import parsePrometheus, { type Family } from 'parse-prometheus-text-format'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ProcessDriver } from '../lib/replicas/drivers/process.js'
import { build } from './helper.js'

/**
 * A sample line of the text format: name, optional labels, a float value, no
 * timestamp. Prometheus reads values with Go's ParseFloat, which takes NaN and
 * Inf in any case (prom-client writes an empty gauge as "Nan").
 */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*")*\})? (?:[+-]?inf|nan|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/i

/** Scrapes /metrics, checks the text format line by line, and parses it. */
async function scrape (t: Test, balancer: FastifyInstance): Promise<Map<string, Family>> {
  const res = await balancer.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const declared = new Map<string, Set<string>>()
  const bad: string[] = []
  for (const line of res.body.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line)
    if (meta !== null) {
      const seen = declared.get(meta[2]) ?? new Set()
      if (seen.has(meta[1])) bad.push(`${meta[1]} twice for ${meta[2]}`)
      declared.set(meta[2], seen.add(meta[1]))
    } else if (!SAMPLE.test(line)) {
      bad.push(line)
    }
  }
  t.same(bad, [], 'every line is a HELP, a TYPE or a well-formed sample')
  const families = new Map(parsePrometheus(res.body).map(f => [f.name, f]))
  const undeclared = [...families.values()].filter(f => f.type === 'UNTYPED' || declared.get(f.name)?.has('HELP') !== true).map(f => f.name)
  t.same(undeclared, [], 'every family has a HELP and a TYPE')
  return families
}

function value (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const sample = families.get(name)?.metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  if (sample?.value === undefined) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`)
  return Number(sample.value)
}

/** An id that the ring sends to this replica now. */
async function idFor (balancer: FastifyInstance, hostname: string): Promise<number> {
  for (let id = 100_000; id < 101_000; id++) {
    if ((await balancer.inject(`/map_request?id=${id}`)).json().hostname === hostname) return id
  }
  throw new Error(`no id maps to ${hostname}`)
}

// one balancer for the read-mostly tests; the one that breaks a replica has its own
const app = await build(t)

t.test('/metrics exposes every ringlb metric, well formed, from a fresh balancer', async t => {
  const families = await scrape(t, app)
  const expected: Record<string, string> = {
    ringlb_proxy_requests_total: 'COUNTER',
    ringlb_proxy_errors_total: 'COUNTER',
    ringlb_proxy_retries_total: 'COUNTER',
    ringlb_replica_respawns_total: 'COUNTER',
    ringlb_heartbeat_failures_total: 'COUNTER',
    ringlb_proxy_duration_seconds: 'HISTOGRAM',
    ringlb_ring_members: 'GAUGE',
    ringlb_ring_share_ratio: 'GAUGE',
    ringlb_replicas: 'GAUGE',
    process_cpu_seconds_total: 'COUNTER'
  }
  for (const [name, type] of Object.entries(expected)) t.equal(families.get(name)?.type, type, `${name} is a ${type.toLowerCase()}`)
  t.equal(value(families, 'ringlb_ring_members'), 3)
  t.equal(value(families, 'ringlb_replicas', { state: 'healthy' }), 3)
  t.equal(value(families, 'ringlb_replicas', { state: 'failed' }), 0)
  for (const replica of ['server-0', 'server-1', 'server-2']) {
    t.equal(value(families, 'ringlb_proxy_requests_total', { replica }), 0, `${replica} starts at zero`)
  }
  const shares = families.get('ringlb_ring_share_ratio')?.metrics.map(m => Number(m.value)) ?? []
  t.equal(shares.length, 3)
  t.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'the shares cover the key space')
})

t.test('proxied requests move the per-replica counters, the histogram and /stats alike', async t => {
  const before = await scrape(t, app)
  const sent = new Map<string, number>()
  for (let id = 0; id < 60; id++) {
    const res = await app.inject(`/home?id=${id}`)
    t.equal(res.statusCode, 200)
    const replica = res.headers['x-ringlb-replica'] as string
    sent.set(replica, (sent.get(replica) ?? 0) + 1)
  }
  const missing = await app.inject('/nowhere?id=5')
  t.equal(missing.statusCode, 404, 'a replica 404 is a request, not an error')
  sent.set(missing.headers['x-ringlb-replica'] as string, (sent.get(missing.headers['x-ringlb-replica'] as string) ?? 0) + 1)
  await app.inject('/rep')

  const after = await scrape(t, app)
  const stats = (await app.inject('/stats')).json()
  for (const [replica, count] of sent) {
    t.equal(value(after, 'ringlb_proxy_requests_total', { replica }) - value(before, 'ringlb_proxy_requests_total', { replica }), count, `${replica} counted ${count}`)
    t.equal(value(after, 'ringlb_proxy_errors_total', { replica }), 0)
    t.equal(stats.replicas.find((r: { hostname: string }) => r.hostname === replica).requests, count, `/stats agrees for ${replica}`)
  }
  t.equal(stats.totals.requests, 61, 'balancer routes are not counted')
  const histogram = after.get('ringlb_proxy_duration_seconds')?.metrics[0]
  t.equal(Number(histogram?.count), 61)
  t.ok(Number(histogram?.sum) > 0)
  const buckets = Object.entries(histogram?.buckets ?? {})
    .map(([le, n]) => [le === '+Inf' ? Infinity : Number(le), Number(n)])
    .sort((a, b) => a[0] - b[0])
  t.ok(buckets.every(([, n], i) => i === 0 || n >= buckets[i - 1][1]), 'buckets are cumulative')
  t.equal(buckets[buckets.length - 1][1], 61, '+Inf holds every request')
})

t.test('a replica that stops answering shows as a retry, an error, a missed heartbeat and a respawn', async t => {
  const driver = new ProcessDriver({ host: '127.0.0.1', startTimeoutMs: 30_000, stopTimeoutMs: 500 })
  const broken = await build(t, { LB_PROXY_TIMEOUT_MS: '300', LB_HEARTBEAT_MS: '100' }, { driver })
  const victim = 'server-1'
  const id = await idFor(broken, victim)
  const pid = driver.pid(victim) as number
  process.kill(pid, 'SIGSTOP')
  // a stopped process must not outlive a failing test; ESRCH means it is gone already
  t.teardown(() => { try { process.kill(pid, 'SIGKILL') } catch {} })

  const res = await broken.inject(`/home?id=${id}`)
  t.equal(res.statusCode, 200, 'answered by the next replica')
  t.not(res.headers['x-ringlb-replica'], victim)
  process.kill(pid, 'SIGKILL')

  const deadline = Date.now() + 20_000
  let stats = (await broken.inject('/stats')).json()
  const of = (s: typeof stats) => s.replicas.find((r: { hostname: string }) => r.hostname === victim)
  while ((of(stats)?.respawns !== 1 || of(stats)?.state !== 'healthy') && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
    stats = (await broken.inject('/stats')).json()
  }
  const families = await scrape(t, broken)
  t.equal(value(families, 'ringlb_proxy_retries_total', { replica: victim }), 1)
  t.equal(value(families, 'ringlb_proxy_errors_total', { replica: victim }), 1)
  t.ok(value(families, 'ringlb_heartbeat_failures_total', { replica: victim }) >= 1, 'its missed heartbeat is counted')
  t.equal(value(families, 'ringlb_replica_respawns_total', { replica: victim }), 1)
  t.equal(of(stats).respawns, 1, '/stats shows the respawn')
  t.equal(of(stats).retries, 1)
  t.equal(value(families, 'ringlb_replicas', { state: 'healthy' }), 3, 'back to three healthy replicas')
})

t.test('/ring draws the key space and /stats shares match it, for every scheme', async t => {
  for (const scheme of ['maglev', 'ring', 'assignment']) {
    const balancer = scheme === 'maglev' ? app : await build(t, { LB_HASH: scheme })
    const ring = (await balancer.inject('/ring')).json()
    const stats = (await balancer.inject('/stats')).json()
    t.equal(ring.scheme, scheme)
    t.equal(ring.size, 3)
    t.ok(ring.segments.length > 0 && ring.segments.length <= 720, `${scheme}: ${ring.segments.length} segments`)
    t.same(new Set(ring.segments.map((s: { hostname: string }) => s.hostname)), new Set(['server-0', 'server-1', 'server-2']))
    const covered = ring.segments.reduce((sum: number, s: { length: number }) => sum + s.length, 0)
    t.ok(Math.abs(covered - 1) < 1e-9, `${scheme}: segments cover the key space`)
    const shareSum = stats.replicas.reduce((sum: number, r: { share: number }) => sum + r.share, 0)
    t.ok(Math.abs(shareSum - 1) < 1e-9, `${scheme}: shares sum to 1`)
    if (balancer !== app) await balancer.close()
  }
})

t.test('/ring carries the ring\'s digest, and /metrics the same one as ringlb_ring_digest_info', async t => {
  const ring = (await app.inject('/ring')).json()
  t.match(ring.digest, /^[0-9a-f]{16}$/)
  const families = await scrape(t, app)
  const info = families.get('ringlb_ring_digest_info') as unknown as { metrics: Array<{ labels: Record<string, string>, value: string }> }
  t.same(info.metrics.map(m => [m.labels.digest, Number(m.value)]), [[ring.digest, 1]])
})
