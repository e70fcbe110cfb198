import { once } from 'node:events'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import { seeded } from '../ids.js'
import { startBalancer, stop } from '../lib/processes.js'
import { call } from './traffic.js'

/*
 * why hash at all. A cache farm of Debian's Varnish, run as replicas by
 * the process driver (LB_REPLICA_COMMAND), in front of one origin that counts
 * what reaches it. Skewed traffic (Zipf-like, seeded) is sent through the
 * balancer under each scheme at N=3, then a fourth cache is added with /add
 * and the same traffic is sent again. A consistent scheme sends each key to
 * one cache, so each key misses once; round-robin spreads a key over every
 * cache and pays a miss on each. After the /add, a key whose owner moved
 * misses once on its new cache.
 */

/** Varnish in the foreground, on the port and address the balancer hands it, with its own working dir. */
export const VARNISH_COMMAND = 'exec varnishd -F -n "$VARNISH_DIR/$REPLICA_NAME" -a "$HOST:$PORT" -b "$ORIGIN" -s malloc,32m ' +
  '-p thread_pools=1 -p thread_pool_min=5 -p thread_pool_max=200'

export interface CacheFarmOptions {
  requests: number
  keys: number
  /** Zipf exponent: request share of the key of rank r ∝ 1 / r^s */
  skew: number
  seed: number
  concurrency: number
  schemes: string[]
  /** where each balancer logs */
  logDir: string
  onRequest?: () => void
}

export interface CachePhase {
  N: number
  requests: number
  hits: number
  /** requests that reached the origin through a cache */
  originRequests: number
  /** answers that were not 200, or no answer */
  errors: number
  byCache: Array<{ cache: string, requests: number, hits: number }>
}

export interface CacheFarmRun {
  scheme: string
  before: CachePhase
  after: CachePhase
  /** distinct keys sent in both phases */
  keys: number
  /** of those, keys that missed after the /add, when every key was cached already: their cache changed */
  movedMissed: number
  /** of those, keys whose owner changed by /map_request (consistent schemes only) */
  ownerChanged?: number
}

/** `count` key ranks (0 = most popular) drawn from a Zipf-like distribution over `keys` keys. */
export function zipfKeys (count: number, keys: number, skew: number, seed: number): number[] {
  const weights = Array.from({ length: keys }, (_, r) => 1 / (r + 1) ** skew)
  const cumulative: number[] = []
  let sum = 0
  for (const w of weights) cumulative.push(sum += w)
  const next = seeded(seed)
  return Array.from({ length: count }, () => {
    const x = next() * sum
    let lo = 0
    let hi = keys - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cumulative[mid] < x) lo = mid + 1
      else hi = mid
    }
    return lo
  })
}

/** The request id of a key rank: a 6-digit id, as the balancer's clients send. */
const idOf = (rank: number): number => 100000 + rank

/** The origin: every object cacheable for an hour, its health path never cached; counts the objects it serves. */
async function startOrigin (): Promise<{ url: string, served: () => number, close: () => Promise<void> }> {
  let served = 0
  const server = http.createServer((req, res) => {
    if (req.url === '/heartbeat') {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain' }).end('ok')
      return
    }
    served++
    res.writeHead(200, { 'cache-control': 'public, max-age=3600', 'content-type': 'text/plain' }).end(`object ${req.url ?? ''}\n`)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `127.0.0.1:${port}`,
    served: () => served,
    close: async () => { server.closeAllConnections(); server.close(); await once(server, 'close') }
  }
}

/**
 * Sends the key sequence through the balancer; records per request whether its cache had it (Varnish's X-Varnish
 * holds two ids on a hit), and which keys missed at least once. (Not "the key's first request": of two requests
 * for a key sent together, either may reach the cache first, and the other waits on it and answers as a hit.)
 */
async function sendPhase (pool: Pool, sequence: number[], concurrency: number, onRequest: () => void): Promise<{ phase: Omit<CachePhase, 'N' | 'originRequests'>, missed: Set<number> }> {
  const byCache = new Map<string, { requests: number, hits: number }>()
  const missed = new Set<number>()
  let hits = 0
  let errors = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < sequence.length) {
      const rank = sequence[next++]
      try {
        const res = await pool.request({ method: 'GET', path: `/object/${rank}?id=${idOf(rank)}` })
        await res.body.dump()
        if (res.statusCode !== 200) { errors++; continue }
        const hit = String(res.headers['x-varnish'] ?? '').trim().split(/\s+/).length === 2
        const cache = String(res.headers['x-ringlb-replica'] ?? '?')
        const row = byCache.get(cache) ?? { requests: 0, hits: 0 }
        row.requests++
        if (hit) { row.hits++; hits++ }
        byCache.set(cache, row)
        if (!hit) missed.add(rank)
      } catch {
        errors++
      } finally {
        onRequest()
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const caches = [...byCache.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([cache, row]) => ({ cache, ...row }))
  return { phase: { requests: sequence.length, hits, errors, byCache: caches }, missed }
}

/** Where each key goes now, by /map_request (undefined under round-robin, which has no owner). */
async function owners (pool: Pool, ranks: number[]): Promise<Map<number, string> | undefined> {
  const map = new Map<number, string>()
  for (const rank of ranks) {
    const res = await call(pool, 'GET', `/map_request?id=${idOf(rank)}`)
    if (res.status === 409) return undefined
    if (res.status !== 200) throw new Error(`/map_request answered ${res.status}: ${res.text}`)
    map.set(rank, (JSON.parse(res.text) as { hostname: string }).hostname)
  }
  return map
}

/** A-5 for each scheme: a fresh origin, three Varnish caches, the traffic, a fourth cache, the traffic again. */
export async function cacheFarm (options: CacheFarmOptions): Promise<CacheFarmRun[]> {
  const sequence = zipfKeys(options.requests, options.keys, options.skew, options.seed)
  const distinct = [...new Set(sequence)].sort((a, b) => a - b)
  const runs: CacheFarmRun[] = []
  for (const scheme of options.schemes) {
    const origin = await startOrigin()
    const varnishDir = await mkdtemp(join(tmpdir(), 'ringlb-varnish-'))
    // varnishd drops to its own users, which must reach their working dirs
    await chmod(varnishDir, 0o755)
    let balancer: Awaited<ReturnType<typeof startBalancer>> | undefined
    let pool: Pool | undefined
    try {
      balancer = await startBalancer({
        LOG_LEVEL: 'warn',
        LB_DRIVER: 'process',
        LB_REPLICAS: '3',
        LB_HASH: scheme,
        LB_REPLICA_COMMAND: VARNISH_COMMAND,
        LB_REPLICA_ENV: JSON.stringify({ ORIGIN: origin.url, VARNISH_DIR: varnishDir }),
        LB_READY_TIMEOUT_MS: '60000'
      }, join(options.logDir, `a5-${scheme}.log`))
      pool = new Pool(balancer.url, { connections: options.concurrency })
      const onRequest = options.onRequest ?? (() => {})
      const ownersBefore = await owners(pool, distinct)
      const before = await sendPhase(pool, sequence, options.concurrency, onRequest)
      const originBefore = origin.served()
      const added = await call(pool, 'POST', '/add', { n: 1 })
      if (added.status !== 200) throw new Error(`/add answered ${added.status}: ${added.text}`)
      const ownersAfter = await owners(pool, distinct)
      const after = await sendPhase(pool, sequence, options.concurrency, onRequest)
      runs.push({
        scheme,
        before: { N: 3, ...before.phase, originRequests: originBefore },
        after: { N: 4, ...after.phase, originRequests: origin.served() - originBefore },
        keys: distinct.length,
        movedMissed: after.missed.size,
        ownerChanged: ownersBefore === undefined || ownersAfter === undefined ? undefined : distinct.filter(rank => ownersBefore.get(rank) !== ownersAfter.get(rank)).length
      })
    } finally {
      await pool?.close()
      if (balancer !== undefined) await stop(balancer.child)
      await origin.close()
      await rm(varnishDir, { recursive: true, force: true })
    }
  }
  return runs
}
