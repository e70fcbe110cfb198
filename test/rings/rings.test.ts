import t from 'tap'
import { createRing, type Member, type Ring, type SchemeName } from '../../lib/rings/index.js'
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
  })

  t.test(`${scheme}: empty ring, duplicates, arcs`, async t => {
    const ring = ringOf(scheme, [])
    t.equal(ring.lookup(1), undefined)
    t.same(ring.preference(1), [])
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
