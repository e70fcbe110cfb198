import t from 'tap'
import type { RingChange, ToPrimary } from '../lib/cluster-messages.js'
import type { ReplicaHandle } from '../lib/drivers/driver.js'
import { RingMirror } from '../lib/ring-mirror.js'
import { createRing } from '../lib/rings/index.js'
import { sixDigitIds } from './fixtures.js'

const handle = (id: number, hostname = `server-${id}`): ReplicaHandle => ({ id, hostname, url: `http://127.0.0.1:${40000 + id}` })

function mirror (): { mirror: RingMirror, sent: ToPrimary[] } {
  const sent: ToPrimary[] = []
  const ring = createRing<ReplicaHandle>({ scheme: 'assignment', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  return { mirror: new RingMirror(ring, message => { sent.push(message) }), sent }
}

/** The changes as a primary makes them: numbered from 1, adds guarded as the replica manager guards them. */
function numbered (changes: Array<{ op: 'add', member: ReplicaHandle } | { op: 'remove', hostname: string }>): RingChange[] {
  return changes.map((change, i) => ({ ...change, seq: i + 1 }) as RingChange)
}

t.test('the same changes in the same order give the same ring as the primary\'s', async t => {
  const primary = createRing<ReplicaHandle>({ scheme: 'assignment', slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  const changes = numbered([
    { op: 'add', member: handle(0) }, { op: 'add', member: handle(1) }, { op: 'add', member: handle(2) },
    { op: 'remove', hostname: 'server-1' }, { op: 'add', member: handle(3) }, { op: 'add', member: handle(1) },
    { op: 'remove', hostname: 'server-0' }, { op: 'add', member: handle(0) }
  ])
  for (const change of changes) {
    if (change.op === 'add') primary.add(change.member)
    else primary.remove(change.hostname)
  }
  const { mirror: copy } = mirror()
  for (const change of changes) copy.apply(change)
  const ids = sixDigitIds(2000, 11)
  t.same(ids.map(id => copy.ring.lookup(id)?.hostname), ids.map(id => primary.lookup(id)?.hostname))
  t.same(copy.ring.arcs(), primary.arcs(), 'every slot alike')
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

  copy.reportFailure('server-9')
  t.same(sent.at(-1), { type: 'ringlb:failure', hostname: 'server-9' })
})
