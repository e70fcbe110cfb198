import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { freePort } from '../lib/free-port.js'
import { BalancerProcess } from '../scripts/chaos/balancer.js'
import { pidRunning, processReplicas } from '../scripts/chaos/victims.js'

t.test('SIGTERM: the balancer stops accepting, finishes the request in flight, stops its replica processes and exits 0', async t => {
  // heartbeats far apart, so the replica held still below is not replaced meanwhile
  const balancer = BalancerProcess.start({ LB_HEARTBEAT_MS: '60000' }, await freePort('127.0.0.1'))
  t.teardown(async () => { await balancer.stop(5000) })
  await balancer.ready(3, 30_000)
  const replicas = await processReplicas(balancer.pid)
  t.same(replicas.map(r => r.hostname), ['server-0', 'server-1', 'server-2'], 'the replicas are the balancer\'s child processes')

  // hold the owner of an id still, so a request to it stays in flight
  const mapped = await (await request(`${balancer.url}/map_request?id=424242`)).body.json() as { hostname: string, mapped_server: number }
  const owner = replicas.find(r => r.hostname === mapped.hostname)
  if (owner === undefined) throw new Error('owner not found')
  process.kill(owner.pid, 'SIGSTOP')
  t.teardown(() => { if (pidRunning(owner.pid)) process.kill(owner.pid, 'SIGKILL') })
  const inFlight = request(`${balancer.url}/home?id=424242`, { headersTimeout: 30_000 })
  await sleep(300)

  const exited = balancer.stop()
  await sleep(500)
  await t.rejects(request(`${balancer.url}/heartbeat`), 'new connections are refused once it is closing')
  t.ok(replicas.every(r => pidRunning(r.pid)), 'replicas still run while a request is in flight')

  process.kill(owner.pid, 'SIGCONT')
  const res = await inFlight
  t.equal(res.statusCode, 200, 'the request in flight completed')
  t.same(await res.body.json(), { message: `Hello from Server: ${mapped.mapped_server}`, status: 'successful' })
  t.equal(res.headers['x-ringlb-replica'], mapped.hostname)
  t.equal(res.headers.connection, 'close', 'and its connection is closed after it, so the close is not held up')

  t.equal(await exited, 0, 'exit code 0')
  await sleep(100)
  t.same(replicas.filter(r => pidRunning(r.pid)).map(r => r.hostname), [], 'no replica process left behind')
})
