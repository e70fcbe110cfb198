import fc from 'fast-check'
import t from 'tap'
import { requestBytes, responseBytes } from '../scripts/fuzz/arbitraries.js'
import { requestDivergence, responseDivergence } from '../scripts/fuzz/properties.js'

/*
 * The seeded, bounded run of the differential fuzzing (npm run fuzz runs
 * long): the fast path and Node's own parser (llhttp) read the same bytes.
 * fast-check shrinks a failure to a small example and prints its seed.
 */
const seed = 15
const numRuns = 3000

t.test('whatever the fast path forwards of a request, Node reads the same; whatever Node refuses, the fast path hands to Node', async t => {
  fc.assert(fc.property(requestBytes, bytes => {
    const divergence = requestDivergence(bytes)
    if (divergence !== undefined) throw new Error(divergence)
  }), { seed, numRuns })
  t.pass(`${numRuns} requests`)
})

t.test('an answer ends at the same byte for the fast path and for Node, and what Node refuses the fast path refuses', async t => {
  await fc.assert(fc.asyncProperty(responseBytes, async ({ bytes, method }) => {
    const divergence = await responseDivergence(bytes, method)
    if (divergence !== undefined) throw new Error(divergence)
  }), { seed, numRuns })
  t.pass(`${numRuns} answers`)
})
