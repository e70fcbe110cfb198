import type { CacheFarmRun } from './cache-farm.js'

export interface CacheFarmResults {
  requests: number
  keys: number
  skew: number
  seed: number
  concurrency: number
  seconds: number
  runs: CacheFarmRun[]
}

const pct = (part: number, whole: number): string => `${(100 * part / whole).toFixed(1)}%`

/** The A-5 rows a chart draws: hit ratio, or origin requests, per scheme and phase. */
export function phaseValues (a5: CacheFarmResults, measure: 'hitRatio' | 'origin'): Array<{ scheme: string, phase: string, value: number }> {
  return a5.runs.flatMap(run => [['N=3', run.before], ['N=4 after /add', run.after]] as const).map(([phase, p], i) => ({
    scheme: a5.runs[Math.floor(i / 2)].scheme,
    phase,
    value: measure === 'hitRatio' ? p.hits / p.requests : p.originRequests
  }))
}

/** The A-5 table: one row per scheme. */
export function cacheTable (a5: CacheFarmResults): string[] {
  const rows = ['| scheme | hit ratio, N=3 | origin requests, N=3 | hit ratio, N=4 after /add | origin requests, N=4 | keys that missed after the /add (they moved) | keys whose owner changed (/map_request) |',
    '|---|---:|---:|---:|---:|---:|---:|']
  for (const r of a5.runs) {
    rows.push(`| ${r.scheme} | ${pct(r.before.hits, r.before.requests)} | ${r.before.originRequests.toLocaleString('en')} | ${pct(r.after.hits, r.after.requests)} | ${r.after.originRequests.toLocaleString('en')} | ` +
      `${r.movedMissed} of ${r.keys} (${pct(r.movedMissed, r.keys)}) | ${r.ownerChanged === undefined ? 'no owners (409)' : `${r.ownerChanged} (${pct(r.ownerChanged, r.keys)})`} |`)
  }
  return rows
}

/** The A-5 section of docs/analysis/report.md. */
export function cacheReport (a5: CacheFarmResults): string[] {
  const consistent = a5.runs.filter(r => r.ownerChanged !== undefined)
  const rr = a5.runs.find(r => r.ownerChanged === undefined)
  const best = Math.min(...consistent.map(r => r.before.originRequests))
  return [
    '## A-5: a real cache farm, measured', '',
    `Three Varnish caches (Debian's \`varnishd\`, run as replicas by the process driver with \`LB_REPLICA_COMMAND\`, \`-s malloc,32m\`) in front of one origin that counts the objects it serves (each cacheable for an hour). ` +
    `${a5.requests.toLocaleString('en')} \`GET /object/<key>?id=<key id>\` over ${a5.keys.toLocaleString('en')} keys, drawn with a Zipf-like popularity (weight 1/rank^${a5.skew}, seed ${a5.seed}), at most ${a5.concurrency} in flight; ` +
    'a hit is an answer whose `X-Varnish` header carries two transaction ids. Then `POST /add` starts a fourth, empty cache and the same requests are sent again. ' +
    `Each scheme starts from a fresh origin and fresh caches (${a5.seconds.toFixed(0)} s in all).`, '',
    ...cacheTable(a5), '',
    '![A-5 hit ratio](a5-hit-ratio.svg) ![A-5 origin requests](a5-origin.svg)', '',
    '- **A consistent scheme pays one miss per key.** Every request for a key reaches the same cache, so the origin serves each key once ' +
    `(${best.toLocaleString('en')} origin requests for the keys drawn, the least possible).` +
    (rr === undefined ? '' : ` **Round-robin** sends a key to every cache in turn, and each cache misses it once: ${rr.before.originRequests.toLocaleString('en')} origin requests, ` +
      `${(rr.before.originRequests / Math.max(1, best)).toFixed(2)}× as many, and the three caches hold up to three copies of each popular object.`),
    '- **After the /add**, a consistent scheme\'s only misses are the keys that moved to the new cache, and they are exactly the keys whose owner `/map_request` says changed: ' +
    consistent.map(r => `${r.scheme} ${pct(r.movedMissed, r.keys)}`).join(', ') + ' of the keys, against the 1/4 a perfectly even scheme moves when going from 3 to 4. ' +
    '`assignment` follows its own layout (see A-4), so its share can be far from 1/4.' +
    (rr === undefined ? '' : ` Under round-robin the new cache starts empty and takes a quarter of every key's requests, so ${pct(rr.movedMissed, rr.keys)} of the keys missed there at least once after the /add.`),
    ''
  ]
}
