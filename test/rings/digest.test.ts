import t from 'tap'
import { ringDigest } from '../../lib/rings/digest.js'
import { type Member, type RingOptions, type SchemeName, createRing } from '../../lib/rings/index.js'

const options = (scheme: SchemeName, more: Partial<RingOptions> = {}): RingOptions => ({ scheme, slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160, ...more })
const members = (...names: string[]): Member[] => names.map((hostname, id) => ({ id, hostname }))

function ringOf (opts: RingOptions, list: Member[]): ReturnType<typeof createRing> {
  const ring = createRing(opts)
  for (const member of list) ring.add(member)
  return ring
}

t.test('two rings with the same scheme, parameters and members have one digest, whatever order the members joined in', async t => {
  for (const scheme of ['maglev', 'ring'] as const) {
    const list = members('server-0', 'server-1', 'server-2', 'server-3')
    t.equal(ringDigest(ringOf(options(scheme), list), options(scheme)), ringDigest(ringOf(options(scheme), [...list].reverse()), options(scheme)), scheme)
  }
})

t.test('the digest changes with a member, its id, the scheme or a parameter of it', async t => {
  const base = ringDigest(ringOf(options('maglev'), members('a', 'b', 'c')), options('maglev'))
  t.not(ringDigest(ringOf(options('maglev'), members('a', 'b', 'c', 'd')), options('maglev')), base, 'a member more')
  t.not(ringDigest(ringOf(options('maglev'), [{ id: 0, hostname: 'a' }, { id: 1, hostname: 'b' }, { id: 7, hostname: 'c' }]), options('maglev')), base, 'another id')
  t.not(ringDigest(ringOf(options('ring'), members('a', 'b', 'c')), options('ring')), base, 'another scheme')
  t.not(ringDigest(ringOf(options('maglev', { tableSize: 251 }), members('a', 'b', 'c')), options('maglev', { tableSize: 251 })), base, 'another table size')
})

t.test('assignment rings with the same members but another history, and so other routes, have other digests', async t => {
  const opts = options('assignment')
  const straight = ringOf(opts, members('a', 'b', 'c'))
  const winding = ringOf(opts, members('a', 'b', 'c', 'd'))
  winding.remove('d')
  const differ = Array.from({ length: 5000 }, (_, key) => key).some(key => straight.lookup(key)?.hostname !== winding.lookup(key)?.hostname)
  t.equal(ringDigest(straight, opts) !== ringDigest(winding, opts), differ, differ ? 'routes differ, digests differ' : 'routes agree, digests agree')
})

t.test('the digest of a known ring is a known value: balancers of two versions that route alike show one digest', async t => {
  // like the golden mappings (test/rings/golden/), these change only on purpose, with the changelog saying so
  const known: Record<SchemeName, [string, string]> = {
    maglev: ['71a81e861c572f9f', '01209d4ab38a7253'],
    ring: ['249a213b03d2a75e', '11ac8b6622e50c8f'],
    assignment: ['7a19fc4cdab882c2', '367ebae4fd837616'],
    'round-robin': ['8370271bfabdf91f', 'cba9ccf20fc77fcc']
  }
  for (const [scheme, [three, empty]] of Object.entries(known) as Array<[SchemeName, [string, string]]>) {
    t.equal(ringDigest(ringOf(options(scheme), members('server-0', 'server-1', 'server-2')), options(scheme)), three, `${scheme}: server-0..2`)
    t.equal(ringDigest(ringOf(options(scheme), []), options(scheme)), empty, `${scheme}: no member`)
  }
})

t.test('empty rings differ by the parameters their scheme will lay members out by, and by no other', async t => {
  const emptyDigest = (opts: RingOptions): string => ringDigest(ringOf(opts, []), opts)
  const changes: Array<[SchemeName, Partial<RingOptions>, boolean]> = [
    ['maglev', { tableSize: 251 }, true],
    ['maglev', { slots: 64, vnodes: 3, ringVnodes: 40 }, false],
    ['ring', { ringVnodes: 40 }, true],
    ['ring', { slots: 64, vnodes: 3, tableSize: 251 }, false],
    ['assignment', { slots: 64 }, true],
    ['assignment', { vnodes: 3 }, true],
    ['assignment', { tableSize: 251, ringVnodes: 40 }, false],
    ['round-robin', { slots: 64, vnodes: 3, tableSize: 251, ringVnodes: 40 }, false]
  ]
  for (const [scheme, more, differs] of changes) {
    t.equal(emptyDigest(options(scheme, more)) !== emptyDigest(options(scheme)), differs, `${scheme} with ${JSON.stringify(more)}: ${differs ? 'another digest' : 'the same digest'}`)
  }
})
