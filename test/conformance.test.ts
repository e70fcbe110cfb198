import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { findBinary } from '../scripts/bench/upstreams.js'

/*
 * `npm run conformance` (built by `npm test`'s pretest) against ringlb's two
 * proxy paths and, beside them, nginx and HAProxy: it exits non-zero when
 * ringlb smuggles, desyncs or hangs, or forwards what both of them refuse.
 * In CI both must be installed (.ci/run installs them): a missing one fails.
 */
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
const missing = ['nginx', 'haproxy'].filter(name => findBinary(name) === undefined)
const script = fileURLToPath(new URL('../dist/scripts/conformance.js', import.meta.url))

t.test('nginx and HAProxy, the yardstick, are installed in CI', { skip: !inCi && missing.length > 0 ? `not installed: ${missing.join(', ')}` : false }, async t => {
  t.same(missing, [])
})

t.test('ringlb smuggles, desyncs and hangs on nothing, and forwards nothing nginx and HAProxy both refuse', async t => {
  const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, LOG_LEVEL: 'silent' } })
  const output = run.stdout + run.stderr
  const count = (side: string): number => Number(new RegExp(`${side} side, (\\d+) cases`).exec(output)?.[1] ?? 0)
  t.ok(count('request') >= 60, `at least 60 request-side cases (${count('request')})`)
  t.ok(count('response') >= 20, `at least 20 response-side cases (${count('response')})`)
  for (const target of ['ringlb fast', 'ringlb undici', ...(missing.length === 0 ? ['nginx', 'haproxy'] : [])]) {
    t.match(output, new RegExp(`\\n  ${target} +refused \\d+`), `${target} was run`)
  }
  t.equal(run.status, 0, output.slice(output.indexOf('\nrequest side')))
})
