import t from 'tap'
import { AssignmentRing, requestSlot, virtualServerSlot } from '../../lib/rings/assignment.js'
import { members, sixDigitIds } from '../fixtures.js'

function ringOf (n: number): AssignmentRing {
  const ring = new AssignmentRing({ slots: 512, vnodes: 9 })
  for (const m of members(n)) ring.add(m)
  return ring
}

t.test('H(i) = (i² + 2i + 17) mod 512, by hand', async t => {
  t.equal(requestSlot(0, 512), 17)
  t.equal(requestSlot(1, 512), 20)
  t.equal(requestSlot(3, 512), 32)
  t.equal(requestSlot(22, 512), (484 + 44 + 17) % 512) // 545 → 33
  // 123456 ≡ 64 (mod 512) and 64² ≡ 0, so H = 128 + 17
  t.equal(requestSlot(123456, 512), 145)
})

t.test('H is exact for ids whose square passes 2^53', async t => {
  for (const i of [Number.MAX_SAFE_INTEGER, 999_999_999_999, 2 ** 40 + 7, -5]) {
    const b = BigInt(i)
    const expected = Number((((b * b + 2n * b + 17n) % 512n) + 512n) % 512n)
    t.equal(requestSlot(i, 512), expected, `H(${i})`)
  }
})

t.test('Φ(i, j) = (i² + j² + 2j + 25) mod 512, by hand', async t => {
  t.equal(virtualServerSlot(0, 0, 512), 25)
  t.equal(virtualServerSlot(0, 1, 512), 28)
  t.equal(virtualServerSlot(1, 0, 512), 26)
  t.equal(virtualServerSlot(2, 1, 512), 32)
  t.equal(virtualServerSlot(0, 8, 512), 105)
  t.equal(virtualServerSlot(30, 8, 512), (900 + 64 + 16 + 25) % 512)
})

t.test('K = 9 virtual servers per replica, collisions resolved by linear probing', async t => {
  const ring = ringOf(3)
  t.same(ring.slotsOf('server-0'), [25, 28, 33, 40, 49, 60, 73, 88, 105])
  t.same(ring.slotsOf('server-1'), [26, 29, 34, 41, 50, 61, 74, 89, 106])
  // Φ(2,0) = 29 is server-1's, so server-2's first virtual server probes on to 30
  t.same(ring.slotsOf('server-2'), [30, 32, 37, 44, 53, 64, 77, 92, 109])
})

t.test('a request goes to the first virtual server clockwise from its slot', async t => {
  const ring = ringOf(3)
  t.equal(ring.lookup(3)?.hostname, 'server-2', 'H(3) = 32 is server-2\'s own slot')
  t.equal(ring.lookup(1)?.hostname, 'server-0', 'H(1) = 20 → next is slot 25')
  t.equal(ring.lookup(123456)?.hostname, 'server-0', 'H = 145 is past every virtual server: wraps to slot 25')
  t.same(ring.preference(3).map(m => m.hostname), ['server-2', 'server-0', 'server-1'], 'slots 32, 33, 34')
})

t.test('adding or removing a replica changes only that replica\'s slots', async t => {
  const ring = ringOf(3)
  const before = ['server-0', 'server-1', 'server-2'].map(h => ring.slotsOf(h))
  ring.add({ id: 3, hostname: 'server-3' })
  t.same(['server-0', 'server-1', 'server-2'].map(h => ring.slotsOf(h)), before, 'add')
  ring.remove('server-1')
  t.same(ring.slotsOf('server-2'), before[2], 'server-2 keeps slot 30 after server-1 frees 29')
  t.same(ring.slotsOf('server-0'), before[0])
  t.same(ring.slotsOf('server-1'), [])
})

t.test('ids move only to an added replica and only from a removed one', async t => {
  const ids = sixDigitIds(10_000)
  const ring = ringOf(4)
  const before = ids.map(id => ring.lookup(id)?.hostname)
  ring.add({ id: 4, hostname: 'server-4' })
  const after = ids.map(id => ring.lookup(id)?.hostname)
  t.ok(after.every((h, i) => h === before[i] || h === 'server-4'), 'add moves ids only onto server-4')
  ring.remove('server-2')
  const removed = ids.map(id => ring.lookup(id)?.hostname)
  t.ok(removed.every((h, i) => h === after[i] || after[i] === 'server-2'), 'remove moves only server-2\'s ids')
})

t.test('a balancer restart rebuilds the same map (same ids, ascending order)', async t => {
  const a = ringOf(5)
  const b = new AssignmentRing({ slots: 512, vnodes: 9 })
  for (const m of members(5)) b.add(m)
  t.same(sixDigitIds(1000).map(id => a.lookup(id)?.hostname), sixDigitIds(1000).map(id => b.lookup(id)?.hostname))
})

t.test('slots and K are configurable; a full map refuses more', async t => {
  const ring = new AssignmentRing({ slots: 16, vnodes: 4 })
  for (const m of members(4)) ring.add(m)
  t.equal(ring.arcs().reduce((s, a) => s + a.length, 0), 1, 'arcs cover the whole map')
  t.throws(() => ring.add({ id: 4, hostname: 'server-4' }), /no room/)
  t.throws(() => ring.add({ id: 9, hostname: 'server-0' }), /already in the ring/)
  t.equal(ring.remove('nope'), false)
  const empty = new AssignmentRing({ slots: 16, vnodes: 4 })
  t.equal(empty.lookup(1), undefined)
  t.same(empty.preference(1), [])
})

t.test('H and Φ stay exact for any safe slot count, where i², 2i or their sum pass 2^53', async t => {
  const H = (i: bigint, s: bigint): number => Number((((i * i + 2n * i + 17n) % s) + s) % s)
  const PHI = (i: bigint, j: bigint, s: bigint): number => Number((((i * i + j * j + 2n * j + 25n) % s) + s) % s)
  for (const slots of [2, 7, 16, 2 ** 27 + 1, 2 ** 40 + 15, 2 ** 51 - 1, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER]) {
    for (const i of [0, 1, -1, 5, 2 ** 33 + 5, slots - 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      t.equal(requestSlot(i, slots), H(BigInt(i), BigInt(slots)), `H(${i}) mod ${slots}`)
      for (const j of [0, 3, slots - 1]) {
        t.equal(virtualServerSlot(i, j, slots), PHI(BigInt(i), BigInt(j), BigInt(slots)), `Φ(${i}, ${j}) mod ${slots}`)
      }
    }
  }
})

t.test('the failover order is every replica once, in the order their virtual servers follow the request slot', async t => {
  const ring = ringOf(5)
  const placed: string[] = new Array(512)
  for (const m of ring.members()) for (const s of ring.slotsOf(m.hostname)) placed[s] = m.hostname
  for (const id of sixDigitIds(300)) {
    const expected: string[] = []
    for (let k = 0; k < 512; k++) {
      const owner = placed[(requestSlot(id, 512) + k) % 512]
      if (owner !== undefined && !expected.includes(owner)) expected.push(owner)
    }
    t.same(ring.preference(id).map(m => m.hostname), expected, `id ${id}`)
  }
  t.same(ring.preference(3, 2).map(m => m.hostname), ['server-2', 'server-0'], 'limit: the first two')
  t.same(ring.preference(3, 0), [], 'limit 0: none')
})

t.test('removing the last replica empties the map; adding again rebuilds it as new', async t => {
  const ring = ringOf(1)
  t.equal(ring.remove('server-0'), true)
  t.equal(ring.size, 0)
  t.equal(ring.lookup(3), undefined)
  t.same(ring.preference(3), [])
  t.same(ring.arcs(), [])
  t.same(ring.slotsOf('server-0'), [])
  ring.add({ id: 0, hostname: 'server-0' })
  t.same(ring.slotsOf('server-0'), ringOf(1).slotsOf('server-0'))
  t.equal(ring.lookup(3)?.hostname, 'server-0')
})

t.test('a map filled exactly takes its last replica; one more is refused and changes nothing', async t => {
  const full = new AssignmentRing({ slots: 16, vnodes: 4 })
  for (const m of members(4)) full.add(m)
  const used = full.members().flatMap(m => full.slotsOf(m.hostname))
  t.same(used.sort((a, b) => a - b), Array.from({ length: 16 }, (_, s) => s), 'every slot holds one virtual server')
  const tight = new AssignmentRing({ slots: 19, vnodes: 4 })
  for (const m of members(4)) tight.add(m)
  const before = tight.members().map(m => tight.slotsOf(m.hostname))
  t.throws(() => tight.add({ id: 4, hostname: 'server-4' }), { message: 'no room for 4 more virtual servers in 19 slots' })
  t.equal(tight.size, 4)
  t.notOk(tight.has('server-4'))
  t.same(tight.slotsOf('server-4'), [], 'no virtual server of the refused replica is left behind')
  t.same(tight.members().map(m => tight.slotsOf(m.hostname)), before)
  tight.remove('server-0')
  t.doesNotThrow(() => tight.add({ id: 4, hostname: 'server-4' }), 'a removal frees room')
})

t.test('the scheme, its sizes and its arcs are what the map holds', async t => {
  const ring = ringOf(3)
  t.equal(ring.scheme, 'assignment')
  t.equal(ring.slots, 512)
  t.equal(ring.vnodes, 9)
  t.same(ring.members().map(m => m.hostname), ['server-0', 'server-1', 'server-2'])
  t.ok(ring.has('server-1'))
  t.notOk(ring.has('server-3'))
  // slots 25..109 hold the 27 virtual servers; each arc ends at one and wraps from 110 to 25
  const arcs = ring.arcs()
  t.same(arcs[0], { start: 0, length: 26 / 512, hostname: 'server-0' }, 'slots 0..25 are served by slot 25')
  t.same(arcs[arcs.length - 1], { start: 110 / 512, length: 402 / 512, hostname: 'server-0' }, 'slots 110..511 wrap to slot 25')
})
