import fc from 'fast-check'
import { parseArgs } from 'node:util'
import { requestBytes, responseBytes } from './fuzz/arbitraries.js'
import { requestDivergence, responseDivergence } from './fuzz/properties.js'

/*
 * `npm run fuzz -- --runs N [--seed S]`: N generated request heads and N
 * answer streams, each read by the fast path and by Node's own parser; every
 * divergence is counted by kind, with the first example of each printed.
 */
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10000' }, seed: { type: 'string' }, batch: { type: 'string', default: '2000' } } })
const runs = Number(values.runs)
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed)
const batch = Number(values.batch)
const kinds = new Map<string, { count: number, example: string }>()
const record = (side: string, divergence: string | undefined, bytes: Buffer): void => {
  if (divergence === undefined) return
  const kind = `${side}: ${divergence.replace(/\d+/g, 'N').replace(/"[^"]*"/g, '"…"').slice(0, 100)}`
  const seen = kinds.get(kind)
  if (seen !== undefined) seen.count++
  else kinds.set(kind, { count: 1, example: `${divergence}\n    ${JSON.stringify(bytes.toString('latin1'))}` })
}

console.log(`fuzzing ${runs} requests and ${runs} answers, seed ${seed}`)
const started = Date.now()
for (let done = 0; done < runs; done += batch) {
  const n = Math.min(batch, runs - done)
  for (const bytes of fc.sample(requestBytes, { seed: seed + done, numRuns: n })) record('request', requestDivergence(bytes), bytes)
  for (const { bytes, method } of fc.sample(responseBytes, { seed: seed + done, numRuns: n })) record(`${method} answer`, await responseDivergence(bytes, method), bytes)
  if ((done / batch) % 50 === 0) console.log(`  ${done + n} of each, ${[...kinds.values()].reduce((s, k) => s + k.count, 0)} divergences, ${Math.round((Date.now() - started) / 1000)} s`)
}
const total = [...kinds.values()].reduce((sum, k) => sum + k.count, 0)
console.log(`\n${runs} requests and ${runs} answers in ${Math.round((Date.now() - started) / 1000)} s: ${total} divergences of ${kinds.size} kinds`)
for (const [kind, { count, example }] of kinds) console.log(`\n${count} × ${kind}\n  e.g. ${example}`)
if (total > 0) process.exitCode = 1
