import t from 'tap'
import { RoundRobinRing } from '../../lib/rings/round-robin.js'
import { createRing } from '../../lib/rings/index.js'

const ringOf = (...hostnames: string[]): RoundRobinRing => {
  const ring = new RoundRobinRing()
  // added out of id order: the ring keeps them by id
  for (const [id, hostname] of hostnames.map((h, i) => [i, h] as const).reverse()) ring.add({ id, hostname })
  return ring
}

t.test('round-robin: each lookup takes the next member by id in turn, whatever the key', async t => {
  const ring = ringOf('a', 'b', 'c')
  t.same(ring.members().map(m => m.hostname), ['a', 'b', 'c'], 'members by id')
  t.same([1, 1, 1, 1, 1, 1].map(() => ring.lookup()?.hostname), ['b', 'c', 'a', 'b', 'c', 'a'])
})

t.test('round-robin: preference is the next member in turn, then each other member once, up to the limit', async t => {
  const ring = ringOf('a', 'b', 'c')
  t.same(ring.preference(7).map(m => m.hostname), ['b', 'c', 'a'])
  t.same(ring.preference(7).map(m => m.hostname), ['c', 'a', 'b'], 'the turn moved on')
  t.same(ring.preference(7, 2).map(m => m.hostname), ['a', 'b'], 'limit 2')
  t.same(ring.preference(7, 10).map(m => m.hostname), ['b', 'c', 'a'], 'a limit above the member count: each member once')
  t.same(ring.preference(7, 0), [], 'limit 0')
})

t.test('round-robin: an empty ring routes nothing; membership, duplicates and removal', async t => {
  const ring = new RoundRobinRing()
  t.equal(ring.lookup(), undefined)
  t.same(ring.preference(1), [])
  t.same(ring.arcs(), [])
  t.equal(ring.scheme, 'round-robin')
  ring.add({ id: 0, hostname: 'a' })
  ring.add({ id: 1, hostname: 'b' })
  t.throws(() => ring.add({ id: 2, hostname: 'a' }), { message: 'a is already in the ring' })
  t.equal(ring.size, 2)
  t.ok(ring.has('a'))
  t.notOk(ring.has('c'))
  t.equal(ring.remove('c'), false, 'removing a non-member')
  t.equal(ring.size, 2, 'changes nothing')
  t.equal(ring.remove('a'), true)
  t.same(ring.members().map(m => m.hostname), ['b'])
  t.same([1, 1].map(() => ring.lookup()?.hostname), ['b', 'b'])
  t.equal(ring.remove('b'), true)
  t.equal(ring.lookup(), undefined, 'empty again')
})

t.test('round-robin: the ring view shows equal shares in id order', async t => {
  const ring = ringOf('a', 'b', 'c', 'd')
  t.same(ring.arcs(), [
    { start: 0, length: 0.25, hostname: 'a' },
    { start: 0.25, length: 0.25, hostname: 'b' },
    { start: 0.5, length: 0.25, hostname: 'c' },
    { start: 0.75, length: 0.25, hostname: 'd' }
  ])
})

t.test('round-robin: the scheme factory makes it', async t => {
  const ring = createRing({ scheme: 'round-robin', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  t.type(ring, RoundRobinRing)
  t.equal(ring.scheme, 'round-robin')
})
