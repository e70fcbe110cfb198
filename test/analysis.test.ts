import t from 'tap'
import { perReplicaBars, renderSvg } from '../scripts/analysis/charts.js'
import { textbookFacts } from '../scripts/analysis/textbook.js'

t.test('the textbook map: H reaches 87 of 512 slots and server-0 serves nearly all of them at N=3', async t => {
  const facts = textbookFacts(512, 9, 3)
  t.equal(facts.reachable.length, 87)
  // H(i) = (i + 1)² + 16: every reachable slot minus 16 is a square mod 512
  const squares = new Set(Array.from({ length: 512 }, (_, r) => (r * r) % 512))
  t.ok(facts.reachable.every(slot => squares.has((slot - 16 + 512) % 512)))
  t.same(facts.span, [25, 109], 'every virtual server sits in slots 25..109')
  t.same(facts.placement[0].slots, [25, 28, 33, 40, 49, 60, 73, 88, 105])
  t.same(facts.owners.map(o => o.reachableSlots), [83, 2, 2])
  t.ok(facts.owners[0].share > 0.93, `server-0 serves ${facts.owners[0].share} of all 6-digit ids`)
  t.equal(facts.owners.reduce((sum, o) => sum + o.share, 0).toFixed(6), '1.000000')
})

t.test('a chart renders to SVG without a canvas', async t => {
  const svg = await renderSvg(perReplicaBars('A-1 test', [{ replica: 'server-0', requests: 70 }, { replica: 'server-1', requests: 30 }], 100))
  t.match(svg, /^<svg/)
  t.match(svg, /server-1/)
  t.match(svg, /A-1 test/)
})
