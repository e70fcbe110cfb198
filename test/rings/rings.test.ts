import t from 'tap'
import { createRing, type Member, type Ring, type SchemeName } from '../../lib/rings/index.js'
import { hashKey, hashWords } from '../../lib/rings/hash.js'
import { isPrime } from '../../lib/rings/maglev.js'
import { members, sixDigitIds } from '../fixtures.js'

const ids = sixDigitIds(10_000)

function ringOf (scheme: SchemeName, list: Member[]): Ring {
  const ring = createRing<Member>({ scheme, slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  for (const m of list) ring.add(m)
  return ring
}

function owners (ring: Ring): string[] {
  return ids.map(id => ring.lookup(id)?.hostname as string)
}

function maxOverMean (ring: Ring): number {
  const counts = new Map<string, number>()
  for (const h of owners(ring)) counts.set(h, (counts.get(h) ?? 0) + 1)
  return Math.max(...counts.values()) / (ids.length / ring.size)
}

const limits: Record<'maglev' | 'ring', number> = { maglev: 1.06, ring: 1.2 }

for (const scheme of ['maglev', 'ring'] as const) {
  t.test(`${scheme}: balance on 10,000 random 6-digit ids, N = 3..6`, async t => {
    for (let n = 3; n <= 6; n++) {
      const ratio = maxOverMean(ringOf(scheme, members(n)))
      t.ok(ratio <= limits[scheme], `N=${n}: max/mean ${ratio.toFixed(3)} ≤ ${limits[scheme]}`)
    }
  })

  t.test(`${scheme}: adding a replica only moves ids to it`, async t => {
    for (let n = 3; n <= 6; n++) {
      const ring = ringOf(scheme, members(n))
      const before = owners(ring)
      ring.add({ id: n, hostname: `server-${n}` })
      const after = owners(ring)
      const between = after.filter((h, i) => h !== before[i] && h !== `server-${n}`).length
      const moved = after.filter((h, i) => h !== before[i]).length
      if (scheme === 'ring') t.equal(between, 0, `N=${n}: no id moves between old replicas`)
      else t.ok(between / ids.length <= 0.005, `N=${n}: ${between} ids moved between old replicas (≤ 0.5%)`)
      t.ok(moved > 0.5 * ids.length / (n + 1), `N=${n}: the new replica takes its share (${moved})`)
    }
  })

  t.test(`${scheme}: removing a replica only moves its ids`, async t => {
    for (let n = 3; n <= 6; n++) {
      const ring = ringOf(scheme, members(n + 1))
      const before = owners(ring)
      ring.remove('server-1')
      const after = owners(ring)
      t.notOk(after.includes('server-1'))
      const between = after.filter((h, i) => h !== before[i] && before[i] !== 'server-1').length
      if (scheme === 'ring') t.equal(between, 0, `N=${n + 1}→${n}: only server-1's ids move`)
      else t.ok(between / ids.length <= 0.005, `N=${n + 1}→${n}: ${between} ids moved between survivors (≤ 0.5%)`)
    }
  })

  t.test(`${scheme}: two balancers that see the same replicas route every id the same way`, async t => {
    const a = ringOf(scheme, members(5))
    const b = ringOf(scheme, members(5).reverse())
    t.same(owners(a), owners(b))
  })

  t.test(`${scheme}: preference is the owner, then every other replica once`, async t => {
    const ring = ringOf(scheme, members(4))
    for (const id of ids.slice(0, 200)) {
      const order = ring.preference(id)
      t.equal(order[0], ring.lookup(id))
      t.equal(new Set(order).size, 4)
    }
    t.equal(ring.preference(ids[0], 2).length, 2, 'limit')
    t.same(ring.preference(ids[0], 10), ring.preference(ids[0]), 'a limit above the member count gives every member once, and ends')
  })

  t.test(`${scheme}: empty ring, duplicates, arcs`, async t => {
    const ring = ringOf(scheme, [])
    t.equal(ring.lookup(1), undefined)
    t.same(ring.preference(1), [])
    t.same(ring.arcs(), [], 'a ring with no member has no arcs')
    t.equal(ids.slice(0, 1000).find(id => ring.lookup(id) !== undefined), undefined, 'no id has an owner')
    ring.add({ id: 0, hostname: 'a' })
    t.throws(() => ring.add({ id: 1, hostname: 'a' }), /already in the ring/)
    t.equal(ring.remove('b'), false)
    ring.add({ id: 1, hostname: 'b' })
    const arcs = ring.arcs()
    const total = arcs.reduce((s, a) => s + a.length, 0)
    t.ok(Math.abs(total - 1) < 1e-9, 'arcs cover the key space')
    t.ok(arcs.every(a => a.start >= 0 && a.start < 1))
    t.same(new Set(arcs.map(a => a.hostname)), new Set(['a', 'b']))
  })
}

t.test('maglev needs a prime table; ring needs a multiple of 4 points', async t => {
  t.ok(isPrime(65537))
  t.notOk(isPrime(65536))
  t.notOk(isPrime(1))
  t.throws(() => createRing({ scheme: 'maglev', slots: 512, vnodes: 9, tableSize: 65536, ringVnodes: 160 }), /prime/)
  t.throws(() => createRing({ scheme: 'ring', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 161 }), /multiple of 4/)
})

t.test('ids above 2^32 and negative ids hash and land on a replica', async t => {
  for (const scheme of ['maglev', 'ring', 'assignment'] as const) {
    const ring = ringOf(scheme, members(3))
    for (const id of [2 ** 40, Number.MAX_SAFE_INTEGER, -1, -123456]) t.ok(ring.lookup(id), `${scheme} ${id}`)
  }
})

/** The owner of every slot of a table scheme, read back from its arcs. */
function slotOwners (ring: Ring, slots: number): string[] {
  const owners: string[] = new Array(slots)
  for (const arc of ring.arcs()) {
    const first = Math.round(arc.start * slots)
    for (let s = first; s < first + Math.round(arc.length * slots); s++) owners[s] = arc.hostname
  }
  return owners
}

/** The ketama points, computed from the description: four per MD5 digest of `<hostname>-<n>`, ties to the lower hostname. */
function ketamaPoints (list: Member[], vnodes: number): Array<[number, string]> {
  const points: Array<[number, string]> = []
  for (const m of list) for (let d = 0; d < vnodes / 4; d++) for (const w of hashWords(`${m.hostname}-${d}`)) points.push([w, m.hostname])
  return points.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1))
}

/** The distinct owners met walking from `start`, until all `count` are met. */
function distinctFrom (positions: number, start: number, count: number, ownerAt: (p: number) => string | undefined): string[] {
  const out: string[] = []
  for (let k = 0; k < positions && out.length < count; k++) {
    const owner = ownerAt((start + k) % positions)
    if (owner !== undefined && !out.includes(owner)) out.push(owner)
  }
  return out
}

t.test('maglev: the failover order is the distinct owners met walking the table onward from the key\'s slot', async t => {
  const ring = ringOf('maglev', members(5))
  const table = slotOwners(ring, 65537)
  for (const id of ids.slice(0, 300)) {
    t.same(ring.preference(id).map(m => m.hostname), distinctFrom(65537, hashKey(id) % 65537, 5, s => table[s]), `id ${id}`)
  }
})

t.test('ring: the failover order is the distinct owners of the points met walking clockwise from the key\'s hash', async t => {
  const ring = ringOf('ring', members(5))
  const points = ketamaPoints(members(5), 160)
  for (const id of ids.slice(0, 300)) {
    const h = hashKey(id)
    const at = points.findIndex(p => p[0] >= h)
    t.same(ring.preference(id).map(m => m.hostname), distinctFrom(points.length, at === -1 ? 0 : at, 5, p => points[p][1]), `id ${id}`)
  }
})

t.test('ring: each replica has exactly its points, 4 per MD5 digest of <hostname>-<n>', async t => {
  for (const vnodes of [4, 160, 320]) {
    const ring = createRing<Member>({ scheme: 'ring', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: vnodes })
    for (const m of members(3)) ring.add(m)
    const arcs = ring.arcs()
    t.equal(arcs.length, 3 * vnodes, `${vnodes} points per replica: ${3 * vnodes} arcs`)
    const ends = arcs.map(a => Math.round((a.start + a.length) * 2 ** 32 - 1) % 2 ** 32)
    t.same(ends.map((end, i) => [end, arcs[i].hostname]).sort((a, b) => (a[0] as number) - (b[0] as number)), ketamaPoints(members(3), vnodes), `${vnodes}: the points are the MD5 words`)
  }
  const make = (ringVnodes: number) => () => createRing({ scheme: 'ring', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes })
  t.doesNotThrow(make(4), 'the fewest points: 4')
  for (const bad of [0, -4, 2, 6, 162]) t.throws(make(bad), { message: `ring vnodes must be a positive multiple of 4, got ${bad}` })
})

t.test('maglev: every replica holds ⌊M/N⌋ or ⌈M/N⌉ slots, filled in hostname order', async t => {
  for (const tableSize of [7, 13, 1021]) {
    for (let n = 1; n <= 6; n++) {
      const ring = createRing<Member>({ scheme: 'maglev', slots: 512, vnodes: 9, tableSize, ringVnodes: 160 })
      for (const m of members(n)) ring.add(m)
      const counts = new Map<string, number>()
      for (const h of slotOwners(ring, tableSize)) counts.set(h, (counts.get(h) ?? 0) + 1)
      t.equal([...counts.values()].reduce((a, b) => a + b, 0), tableSize, `M=${tableSize} N=${n}: every slot owned`)
      t.ok([...counts.values()].every(c => c === Math.floor(tableSize / n) || c === Math.ceil(tableSize / n)), `M=${tableSize} N=${n}: ${[...counts.values()].join(', ')}`)
      if (tableSize % n !== 0) {
        const extra = [...counts].filter(([, c]) => c > tableSize / n).map(([h]) => h).sort()
        t.same(extra, members(n).map(m => m.hostname).slice(0, tableSize % n), `M=${tableSize} N=${n}: the first in hostname order take the spare slots`)
      }
    }
  }
})

t.test('maglev: a table holds at most as many replicas as it has slots; one more is refused and changes nothing', async t => {
  const ring = createRing<Member>({ scheme: 'maglev', slots: 512, vnodes: 9, tableSize: 3, ringVnodes: 160 })
  for (const m of members(3)) ring.add(m)
  t.same(slotOwners(ring, 3).sort(), ['server-0', 'server-1', 'server-2'], 'one slot each')
  const before = ids.slice(0, 50).map(id => ring.lookup(id)?.hostname)
  t.throws(() => ring.add({ id: 3, hostname: 'server-3' }), { message: 'maglev table is smaller than the member count' })
  t.equal(ring.size, 3)
  t.notOk(ring.has('server-3'))
  t.same(ids.slice(0, 50).map(id => ring.lookup(id)?.hostname), before)
})

for (const scheme of ['maglev', 'ring', 'assignment'] as const) {
  t.test(`${scheme}: removing the last replica leaves an empty ring that routes nothing, and takes replicas again`, async t => {
    const ring = ringOf(scheme, members(3))
    for (const h of ['server-2', 'server-0', 'server-1']) t.equal(ring.remove(h), true, `remove ${h}`)
    t.equal(ring.size, 0)
    t.same(ring.members(), [])
    t.equal(ring.lookup(ids[0]), undefined)
    t.same(ring.preference(ids[0]), [])
    t.same(ring.arcs(), [])
    t.equal(ring.remove('server-0'), false, 'removing from an empty ring is a no-op')
    for (const m of members(3)) ring.add(m)
    t.same(owners(ring), owners(ringOf(scheme, members(3))), 'refilled, it routes as a new ring')
  })

  t.test(`${scheme}: the scheme name, membership and id order`, async t => {
    const ring = ringOf(scheme, [{ id: 2, hostname: 'a' }, { id: 0, hostname: 'c' }, { id: 1, hostname: 'b' }])
    t.equal(ring.scheme, scheme)
    t.equal(ring.size, 3)
    t.same(ring.members().map(m => m.id), [0, 1, 2], 'members by numeric id')
    t.ok(ring.has('b'))
    t.notOk(ring.has('d'))
  })
}

t.test('isPrime: primes, their squares and products, and what is not an integer', async t => {
  for (const p of [2, 3, 5, 7, 11, 13, 65537, 10_000_019]) t.ok(isPrime(p), `${p} is prime`)
  for (const n of [4, 9, 25, 49, 121, 169, 65537 * 3, 4294967297, 0, 1, -7, 2.5, NaN, Infinity]) t.notOk(isPrime(n), `${n} is not prime`)
})

t.test('ring: two replicas on the same point: the lower hostname owns it, whatever the order they were added in', async t => {
  // MD5("replica-9481-0") and MD5("replica-20387-0") share the word 3979825422; id 6 hashes just below it
  t.ok(hashWords('replica-9481-0').includes(3979825422) && hashWords('replica-20387-0').includes(3979825422), 'the shared point')
  t.ok(hashKey(6) > 3567219371 && hashKey(6) <= 3979825422, 'id 6 falls on the arc that ends at the shared point')
  const tied = [{ id: 0, hostname: 'replica-9481' }, { id: 1, hostname: 'replica-20387' }]
  for (const list of [tied, [...tied].reverse()]) {
    const ring = createRing<Member>({ scheme: 'ring', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 4 })
    for (const m of list) ring.add(m)
    t.equal(ring.lookup(6)?.hostname, 'replica-20387', `added ${list.map(m => m.hostname).join(', ')}`)
    t.same(ring.preference(6).map(m => m.hostname), ['replica-20387', 'replica-9481'])
  }
})

t.test('ring: a key whose hash is exactly a point belongs to that point ("at or after"), not the next', async t => {
  // 79351637 hashes to 4911825, the fourth word of MD5("server-0-1"): one of server-0's points, followed by one of server-2's
  t.equal(hashKey(79351637), hashWords('server-0-1')[3])
  const points = ketamaPoints(members(3), 160)
  const at = points.findIndex(p => p[0] === 4911825)
  t.same([points[at][1], points[at + 1][1]], ['server-0', 'server-2'])
  const ring = ringOf('ring', members(3))
  t.equal(ring.lookup(79351637)?.hostname, 'server-0')
  t.same(ring.preference(79351637, 2).map(m => m.hostname), ['server-0', 'server-2'])
})
