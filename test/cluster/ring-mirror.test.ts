import t from 'tap'
import type { RingChange, ToPrimary } from '../../lib/cluster/messages.js'
import type { ReplicaHandle } from '../../lib/replicas/drivers/driver.js'
import { RingMirror } from '../../lib/cluster/ring-mirror.js'
import { type Ring, type SchemeName, createRing } from '../../lib/rings/index.js'
import { sixDigitIds } from '../fixtures.js'

const handle = (id: number, hostname = `server-${id}`): ReplicaHandle => ({ id, hostname, url: `http://127.0.0.1:${40000 + id}` })

const ring = (scheme: SchemeName = 'assignment'): Ring<ReplicaHandle> => createRing<ReplicaHandle>({ scheme, slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })

function mirror (scheme: SchemeName = 'assignment'): { mirror: RingMirror, sent: ToPrimary[] } {
  const sent: ToPrimary[] = []
  return { mirror: new RingMirror(ring(scheme), message => { sent.push(message) }), sent }
}

/** The changes as a primary publishes them: numbered from 1. */
function numbered (changes: Array<{ op: 'add', member: ReplicaHandle } | { op: 'remove', hostname: string }>): RingChange[] {
  return changes.map((change, i) => ({ ...change, seq: i + 1 }) as RingChange)
}

const history = numbered([
  { op: 'add', member: handle(0) }, { op: 'add', member: handle(1) }, { op: 'add', member: handle(2) },
  { op: 'remove', hostname: 'server-1' }, { op: 'add', member: handle(3) }, { op: 'add', member: handle(1) },
  { op: 'remove', hostname: 'server-0' }, { op: 'add', member: handle(0) }
])

/** The primary's ring after `changes`, as the replica manager makes them. */
function primaryRing (scheme: SchemeName, changes: RingChange[]): Ring<ReplicaHandle> {
  const primary = ring(scheme)
  for (const change of changes) {
    if (change.op === 'remove') primary.remove(change.hostname)
    else if (!primary.has(change.member.hostname)) primary.add(change.member)
  }
  return primary
}

for (const scheme of ['assignment', 'maglev', 'ring'] as const) {
  t.test(`${scheme}: the log, replayed at start or applied change by change, gives the primary's ring`, async t => {
    const primary = primaryRing(scheme, history)
    const ids = sixDigitIds(2000, 11)
    const { mirror: started, sent } = mirror(scheme)
    started.replay(history)
    t.same(ids.map(id => started.ring.lookup(id)?.hostname), ids.map(id => primary.lookup(id)?.hostname), 'replayed')
    t.same(started.ring.arcs(), primary.arcs(), 'replayed: every slot alike')
    t.same(sent, [], 'a replay tells the primary nothing: nothing was in flight')
    const { mirror: following } = mirror(scheme)
    for (const change of history) following.apply(change)
    t.same(following.ring.arcs(), primary.arcs(), 'applied one by one: every slot alike')
  })
}

t.test('assignment: a copy built from the members alone, in id order, would differ: the order matters', async t => {
  const members = primaryRing('assignment', history).members()
  const rebuilt = ring('assignment')
  for (const member of members) rebuilt.add(member)
  t.notSame(rebuilt.arcs(), primaryRing('assignment', history).arcs())
})

t.test('a change out of order is refused: the copy would differ', async t => {
  const { mirror: copy } = mirror()
  copy.apply({ seq: 1, op: 'add', member: handle(0) })
  t.throws(() => { copy.apply({ seq: 3, op: 'add', member: handle(1) }) }, /ring change 3 arrived after 1/)
  t.equal(copy.ring.size, 1, 'nothing applied')
})

t.test('a removed replica leaves, and the primary hears when its last request here ends', async t => {
  const { mirror: copy, sent } = mirror()
  const left: string[] = []
  copy.on('leave', replica => { left.push(replica.hostname) })
  copy.apply({ seq: 1, op: 'add', member: handle(0) })
  copy.apply({ seq: 2, op: 'add', member: handle(1) })
  copy.load.inc('server-0')
  copy.load.inc('server-0')
  copy.apply({ seq: 3, op: 'remove', hostname: 'server-0' })
  t.same(left, ['server-0'])
  t.notOk(copy.ring.has('server-0'))
  t.same(sent, [], 'two requests still in flight')
  copy.load.dec('server-0')
  t.same(sent, [], 'one still in flight')
  copy.load.dec('server-0')
  t.same(sent, [{ type: 'ringlb:idle', hostname: 'server-0', seq: 3 }])

  copy.apply({ seq: 4, op: 'remove', hostname: 'server-1' })
  t.same(sent.at(-1), { type: 'ringlb:idle', hostname: 'server-1', seq: 4 }, 'idle at once when nothing is in flight')
  copy.load.inc('server-1')
  copy.load.dec('server-1')
  t.equal(sent.length, 2, 'said once per removal')

  copy.apply({ seq: 5, op: 'add', member: handle(0) })
  copy.load.inc('server-0')
  copy.apply({ seq: 6, op: 'remove', hostname: 'server-0' })
  copy.apply({ seq: 7, op: 'add', member: handle(0) })
  copy.load.dec('server-0')
  t.equal(sent.length, 2, 'removed and back before its request ended: no drain to end, nothing said')

  copy.reportFailure('server-9')
  t.same(sent.at(-1), { type: 'ringlb:failure', hostname: 'server-9' })
})
