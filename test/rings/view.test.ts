import t from 'tap'
import { ringView } from '../../lib/rings/view.js'
import { createRing, type Member } from '../../lib/rings/index.js'
import { members } from '../fixtures.js'

function covers (segments: { start: number, length: number }[]): boolean {
  let at = 0
  for (const s of segments) {
    if (Math.abs(s.start - at) > 1e-9) return false
    at = s.start + s.length
  }
  return Math.abs(at - 1) < 1e-9
}

t.test('few arcs are kept exactly, neighbours of one owner joined, a wrapping arc split', async t => {
  const view = ringView([
    { start: 0.9, length: 0.2, hostname: 'a' },
    { start: 0.1, length: 0.3, hostname: 'b' },
    { start: 0.4, length: 0.2, hostname: 'b' },
    { start: 0.6, length: 0.3, hostname: 'c' }
  ])
  t.same(Object.fromEntries([...view.shares].map(([h, s]) => [h, Number(s.toFixed(9))])), { a: 0.2, b: 0.5, c: 0.3 })
  t.same(view.segments.map(s => [s.hostname, Number(s.start.toFixed(9)), Number(s.length.toFixed(9))]), [
    ['a', 0, 0.1], ['b', 0.1, 0.5], ['c', 0.6, 0.3], ['a', 0.9, 0.1]
  ])
})

t.test('a maglev table is drawn in at most `resolution` arcs covering the key space, with exact shares', async t => {
  const ring = createRing<Member>({ scheme: 'maglev', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  for (const m of members(5)) ring.add(m)
  const arcs = ring.arcs()
  t.ok(arcs.length > 10_000, `${arcs.length} runs in the table`)
  const view = ringView(arcs, 360)
  t.ok(view.segments.length <= 360)
  t.ok(covers(view.segments), 'segments tile [0, 1)')
  t.equal(view.shares.size, 5)
  t.ok(Math.abs([...view.shares.values()].reduce((a, b) => a + b, 0) - 1) < 1e-9)
  t.same(new Set(view.segments.map(s => s.hostname)), new Set(members(5).map(m => m.hostname)), 'every replica is visible')
})

t.test('a ketama ring keeps its arcs while they fit', async t => {
  const ring = createRing<Member>({ scheme: 'ring', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  for (const m of members(2)) ring.add(m)
  const view = ringView(ring.arcs())
  t.ok(view.segments.length <= 320 && view.segments.length > 100)
  t.ok(covers(view.segments))
})

/** Segments rounded, to compare with fractions written by hand. */
function drawn (segments: { start: number, length: number, hostname: string }[]): Array<[string, number, number]> {
  return segments.map(s => [s.hostname, Number(s.start.toFixed(9)), Number(s.length.toFixed(9))])
}

t.test('past `resolution` arcs, each bin is drawn in the colour of the owner holding most of it', async t => {
  const arcs = [
    { start: 0, length: 0.2, hostname: 'a' },
    { start: 0.2, length: 0.1, hostname: 'b' },
    { start: 0.3, length: 0.05, hostname: 'c' },
    { start: 0.35, length: 0.65, hostname: 'b' }
  ]
  // 4 runs (b, c, b do not join) fit 4 arcs: drawn as they are
  t.same(drawn(ringView(arcs, 4).segments), [['a', 0, 0.2], ['b', 0.2, 0.1], ['c', 0.3, 0.05], ['b', 0.35, 0.65]])
  // three bins of 1/3: a holds 0.2 of the first (b 0.1, c 0.033); b most of the others
  t.same(drawn(ringView(arcs, 3).segments), [['a', 0, 0.333333333], ['b', 0.333333333, 0.666666667]])
  // two bins of 0.5: b holds 0.25 of the first (a 0.2, c 0.05)
  t.same(drawn(ringView(arcs, 2).segments), [['b', 0, 1]], 'b holds most of both: joined into one arc')
  t.same(drawn(ringView(arcs.slice().reverse(), 3).segments), drawn(ringView(arcs, 3).segments), 'the input order does not matter')
})

t.test('a tie in a bin goes to the owner met first; an arc ending at 1 fills the last bin', async t => {
  const arcs = [
    { start: 0, length: 0.25, hostname: 'a' },
    { start: 0.25, length: 0.25, hostname: 'b' },
    { start: 0.5, length: 0.25, hostname: 'c' },
    { start: 0.75, length: 0.25, hostname: 'd' }
  ]
  t.same(drawn(ringView(arcs, 2).segments), [['a', 0, 0.5], ['c', 0.5, 0.5]])
  // three bins: a 0.25 and b 0.083 in the first, b and c 0.167 each in the second, c 0.083 and d 0.25 in the third
  t.same(drawn(ringView(arcs, 3).segments), [['a', 0, 0.333333333], ['b', 0.333333333, 0.333333333], ['d', 0.666666667, 0.333333333]])
  const wrapping = ringView([{ start: 0.5, length: 0.75, hostname: 'w' }, { start: 0.25, length: 0.25, hostname: 'x' }], 1)
  t.same(drawn(wrapping.segments), [['w', 0, 1]], 'one bin: w holds 0.75 of it, wrapped')
  t.equal(wrapping.shares.get('w'), 0.75)
  t.same(drawn(ringView([{ start: 0.5, length: 0.75, hostname: 'w' }, { start: 0.25, length: 0.25, hostname: 'x' }]).segments), [['w', 0, 0.25], ['x', 0.25, 0.25], ['w', 0.5, 0.5]], 'a wrapping arc split at 1, not joined across it')
  t.same(ringView([], 4), { shares: new Map(), segments: [] }, 'no arcs: nothing to draw')
})

t.test('past `resolution` arcs, a bin no arc covers is drawn in no colour', async t => {
  // ten arcs of 0.05 cover the first half only: two bins of four are held, two by nobody
  const arcs = Array.from({ length: 10 }, (_, i) => ({ start: i / 20, length: 1 / 20, hostname: i % 2 === 0 ? 'a' : 'b' }))
  const view = ringView(arcs, 4)
  t.same(drawn(view.segments), [['a', 0, 0.25], ['b', 0.25, 0.25]], 'a holds 3 of 5 arcs in the first bin, b in the second; nothing after 0.5')
  t.equal(Number((view.shares.get('a') as number).toFixed(9)), 0.25)
})
