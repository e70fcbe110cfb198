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
