import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { cacheFarm, zipfKeys } from '../scripts/analysis/cache-farm.js'
import { underCI } from './docker-engine.js'

/*
 * A-5 at small numbers: real Varnish caches as process replicas
 * (LB_REPLICA_COMMAND), a real origin, real requests through the balancer.
 */

function varnishMissing (): string | false {
  try {
    execFileSync('varnishd', ['-V'], { stdio: 'ignore' })
    return false
  } catch {
    if (underCI()) throw new Error('the cache farm test must run under CI, but varnishd is not installed (apt-get install varnish)')
    return 'varnishd is not installed (apt-get install varnish)'
  }
}

t.test('the Zipf-like keys are seeded and skewed: the same draw twice, the top key far above the median', async t => {
  const keys = zipfKeys(5000, 100, 1, 3)
  t.same(keys, zipfKeys(5000, 100, 1, 3))
  const counts = new Array(100).fill(0)
  for (const k of keys) counts[k]++
  t.ok(counts[0] > 10 * [...counts].sort((a, b) => a - b)[50], `key 0 drawn ${counts[0]} times`)
  t.ok(keys.every(k => k >= 0 && k < 100))
})

t.test('a Varnish farm behind the balancer: hashing keeps each key in one cache, round-robin does not; an /add moves about 1/4 of the keys', { skip: varnishMissing() }, async t => {
  const logDir = mkdtempSync(join(tmpdir(), 'ringlb-a5-test-'))
  t.teardown(() => { rmSync(logDir, { recursive: true, force: true }) })
  const [maglev, roundRobin] = await cacheFarm({ requests: 800, keys: 80, skew: 1, seed: 5, concurrency: 4, schemes: ['maglev', 'round-robin'], logDir })

  for (const run of [maglev, roundRobin]) {
    t.equal(run.before.errors + run.after.errors, 0, `${run.scheme}: every request answered 200`)
    t.equal(run.before.originRequests, run.before.requests - run.before.hits, `${run.scheme}: each miss, and only a miss, reached the origin`)
    t.equal(run.after.originRequests, run.after.requests - run.after.hits, `${run.scheme}: after the /add too`)
    t.equal(run.after.byCache.length, 4, `${run.scheme}: the fourth cache took traffic`)
  }
  t.equal(maglev.before.originRequests, maglev.keys, 'maglev: one miss per key, the first time it is asked for')
  t.ok(roundRobin.before.originRequests > 1.5 * maglev.before.originRequests,
    `round-robin sent ${roundRobin.before.originRequests} requests to the origin, maglev ${maglev.before.originRequests}`)
  t.equal(maglev.movedMissed, maglev.ownerChanged, 'the keys that missed after the /add are the keys whose owner changed')
  const moved = maglev.movedMissed / maglev.keys
  t.ok(moved > 0.1 && moved < 0.4, `maglev moved ${(100 * moved).toFixed(1)}% of the keys (about 1/4 expected)`)
  t.equal(roundRobin.ownerChanged, undefined, 'round-robin has no owners to compare')
})
