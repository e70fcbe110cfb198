import t from 'tap'
import { pickBounded } from '../../lib/rings/bounded-load.js'
import { createRing, type Member, type Ring } from '../../lib/rings/index.js'
import { members } from '../fixtures.js'

const KEY = 123456

function ringOf (n: number): Ring {
  const ring = createRing<Member>({ scheme: 'ring', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  for (const m of members(n)) ring.add(m)
  return ring
}

function loadsOf (entries: Array<[string, number]>): { load: (hostname: string) => number, total: number } {
  const loads = new Map(entries)
  return { load: h => loads.get(h) ?? 0, total: [...loads.values()].reduce((a, b) => a + b, 0) }
}

t.test('capacity is ⌈factor × (in flight + 1) / replicas⌉: an owner at exactly capacity - 1 still takes the request', async t => {
  const ring = ringOf(4)
  const [owner, second] = ring.preference(KEY)
  // 1.5 × (5 + 1) / 4 = 2.25 → capacity 3: holding 2, the owner takes a third
  const atEdge = loadsOf([[owner.hostname, 2], ['elsewhere', 3]])
  t.equal(pickBounded(ring, KEY, 1.5, atEdge.load, atEdge.total), owner)
  // holding 3, a fourth would pass capacity 3
  const over = loadsOf([[owner.hostname, 3], ['elsewhere', 2]])
  t.equal(pickBounded(ring, KEY, 1.5, over.load, over.total), second)
  const two = loadsOf([[owner.hostname, 2], ['elsewhere', 3]])
  t.equal(pickBounded(ring, KEY, 1, two.load, two.total), second, 'factor 1, 5 in flight: capacity ⌈6/4⌉ = 2, a holder of 2 is full')
  // the +1 counts the request being placed: without it capacity would be ⌈4/4⌉ = 1
  const one = loadsOf([[owner.hostname, 1], ['elsewhere', 3]])
  t.equal(pickBounded(ring, KEY, 1, one.load, one.total), owner, 'factor 1, 4 in flight: capacity ⌈5/4⌉ = 2, a holder of 1 has room')
})

t.test('when every replica is at capacity the owner is chosen: the bound never refuses a request', async t => {
  const ring = ringOf(3)
  const full = loadsOf(ring.members().map(m => [m.hostname, 5]))
  // factor 0.5, 15 in flight: capacity ⌈0.5 × 16 / 3⌉ = 3, and every replica holds 5
  t.equal(pickBounded(ring, KEY, 0.5, full.load, full.total), ring.lookup(KEY))
})

t.test('the next replica with room is taken in the scheme\'s failover order, skipping full ones', async t => {
  const ring = ringOf(5)
  const [owner, second, third, fourth] = ring.preference(KEY)
  const loads = loadsOf([[owner.hostname, 9], [second.hostname, 9], [third.hostname, 9]])
  // 1.25 × 28 / 5 = 7: the fourth in order is the first with room
  t.equal(pickBounded(ring, KEY, 1.25, loads.load, loads.total), fourth)
})

t.test('off with factor 0 or below, and with fewer than two replicas', async t => {
  const loaded = (ring: Ring) => loadsOf(ring.members().map((m, i) => [m.hostname, i === 0 ? 100 : 0]))
  const ring = ringOf(3)
  const owner = ring.lookup(KEY) as Member
  const heavy = loadsOf([[owner.hostname, 100]])
  t.equal(pickBounded(ring, KEY, 0, heavy.load, heavy.total), owner, 'factor 0')
  t.equal(pickBounded(ring, KEY, -1, heavy.load, heavy.total), owner, 'a negative factor')
  const single = ringOf(1)
  const alone = loaded(single)
  t.equal(pickBounded(single, KEY, 1.25, alone.load, alone.total)?.hostname, 'server-0', 'one replica takes everything')
  t.equal(pickBounded(ringOf(0), KEY, 1.25, () => 0, 0), undefined, 'no replica: none')
  const pair = ringOf(2)
  const [first, other] = pair.preference(KEY)
  const busy = loadsOf([[first.hostname, 100]])
  t.equal(pickBounded(pair, KEY, 1.25, busy.load, busy.total), other, 'two replicas are already bounded')
})
