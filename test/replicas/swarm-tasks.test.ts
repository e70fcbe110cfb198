import t from 'tap'
import { DRAINING_LABEL, type SwarmService, type SwarmTask, changes, snapshotOf } from '../../lib/replicas/drivers/swarm-tasks.js'

const NET = { network: 'rlb', port: 5000 }
const service = (id: string, hostname: string, replicaId: number, more: Record<string, string> = {}): SwarmService =>
  ({ ID: id, Spec: { Labels: { 'ringlb.hostname': hostname, 'ringlb.id': String(replicaId), ...more } } })
const task = (id: string, serviceId: string, state: string, address: string | undefined, createdAt: string, desired = 'running'): SwarmTask => ({
  ID: id,
  ServiceID: serviceId,
  CreatedAt: createdAt,
  DesiredState: desired,
  Status: { State: state, Err: state === 'pending' ? 'no suitable node' : undefined },
  NetworksAttachments: address === undefined ? [] : [{ Network: { Spec: { Name: 'rlb' } }, Addresses: [`${address}/24`] }, { Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.9/24'] }]
})

t.test('a replica\'s address is its newest running task\'s on the overlay network; a task still starting or on no network has none', async t => {
  const snapshot = snapshotOf(
    [service('s0', 'server-0', 0), service('s1', 'server-1', 1), service('s2', 'server-2', 2), service('x', 'not-a-replica', NaN)],
    [
      task('old', 's0', 'running', '10.0.1.5', '2026-01-01T00:00:00Z'),
      task('new', 's0', 'running', '10.0.1.9', '2026-01-01T00:00:05Z'),
      task('gone', 's0', 'shutdown', '10.0.1.4', '2026-01-01T00:00:09Z', 'shutdown'),
      task('p', 's1', 'pending', undefined, '2026-01-01T00:00:00Z'),
      task('o', 'other-service', 'running', '10.0.1.7', '2026-01-01T00:00:00Z')
    ],
    NET)
  t.same([...snapshot.keys()], ['server-0', 'server-1', 'server-2'], 'services without a replica\'s labels are not replicas')
  t.same(snapshot.get('server-0')?.task, { id: 'new', url: 'http://10.0.1.9:5000' }, 'a lost node\'s task still shown running loses to the newer one')
  t.equal(snapshot.get('server-1')?.task, undefined)
  t.equal(snapshot.get('server-1')?.lastState, 'pending: no suitable node')
  t.equal(snapshot.get('server-2')?.lastState, 'no task')
})

t.test('between two listings: a new task is running, a task gone is an exit, a service gone or draining is removed', async t => {
  const before = snapshotOf([service('s0', 'a', 0), service('s1', 'b', 1), service('s2', 'c', 2), service('s3', 'd', 3)], [
    task('a1', 's0', 'running', '10.0.1.2', '1'), task('b1', 's1', 'running', '10.0.1.3', '1'), task('c1', 's2', 'running', '10.0.1.4', '1'), task('d1', 's3', 'running', '10.0.1.5', '1')
  ], NET)
  const after = snapshotOf([service('s0', 'a', 0), service('s1', 'b', 1), service('s3', 'd', 3, { [DRAINING_LABEL]: 'true' }), service('s4', 'e', 4)], [
    task('a2', 's0', 'running', '10.0.1.2', '2'), task('d1', 's3', 'running', '10.0.1.5', '1'), task('e1', 's4', 'running', '10.0.1.6', '1')
  ], NET)
  t.same(changes(before, after).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), [
    { kind: 'exit', hostname: 'b', reason: 'its task is not running (no task)' },
    { kind: 'removed', hostname: 'c', reason: 'its service was removed' },
    { kind: 'removed', hostname: 'd', reason: 'another balancer is draining it' },
    { kind: 'running', handle: { id: 0, hostname: 'a', url: 'http://10.0.1.2:5000' } },
    { kind: 'running', handle: { id: 4, hostname: 'e', url: 'http://10.0.1.6:5000' } }
  ].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), 'a task restarted at the same address is still a new task')
  t.same(changes(after, after), [], 'nothing changed, nothing reported')
})
