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
