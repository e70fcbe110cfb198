import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build } from '../helper.js'
import { InProcessDriver } from '../support/in-process-driver.js'

async function idOwnedBy (app: Awaited<ReturnType<typeof build>>, hostname: string): Promise<number> {
  for (let id = 100000; id < 100500; id++) {
    if ((await app.inject(`/map_request?id=${id}`)).json().hostname === hostname) return id
  }
  throw new Error(`no id maps to ${hostname}`)
}

const rm = (app: Awaited<ReturnType<typeof build>>, hostname: string) =>
  app.inject({ method: 'DELETE', url: '/rm', payload: { n: 1, hostnames: [hostname] } })

t.test('/rm takes the replica out of the ring first, lets its in-flight request finish, then stops it', async t => {
  const driver = new InProcessDriver()
  const app = await build(t, { LB_DRAIN_MS: '5000' }, { driver })
  const id = await idOwnedBy(app, 'server-1')

  let slowDoneAt = 0
  const slow = app.inject(`/slow?ms=800&id=${id}`).then(res => { slowDoneAt = Date.now(); return res })
  while (driver.hits('server-1', '/slow') === 0) await sleep(10)

  const removal = rm(app, 'server-1')
  await sleep(100)
  t.same((await app.inject('/rep')).json().replicas, ['server-0', 'server-2'], 'out of the ring while it drains')
  const during = await app.inject(`/home?id=${id}`)
  t.not(during.headers['x-ringlb-replica'], 'server-1', 'new requests for its ids go elsewhere')
  t.notOk(driver.events.some(e => e.type === 'remove'), 'not stopped while a request is in flight')

  const res = await slow
  t.equal(res.statusCode, 200, 'the in-flight request finished')
  t.equal(res.headers['x-ringlb-replica'], 'server-1', 'on the replica being removed')
  const done = await removal
  t.equal(done.statusCode, 200)
  t.same(done.json(), { message: { N: 2, replicas: ['server-0', 'server-2'] }, status: 'successful' })
  const removed = driver.events.find(e => e.type === 'remove' && e.hostname === 'server-1')
  t.ok((removed?.at ?? 0) >= slowDoneAt, 'stopped only after the request finished')
  t.equal(removed?.force, false, 'asked to stop, not killed')
})

t.test('the drain wait is bounded by LB_DRAIN_MS', async t => {
  const driver = new InProcessDriver()
  const app = await build(t, { LB_DRAIN_MS: '300' }, { driver })
  const id = await idOwnedBy(app, 'server-2')
  const slow = app.inject(`/slow?ms=4000&id=${id}`)
  while (driver.hits('server-2', '/slow') === 0) await sleep(10)
  const started = Date.now()
  const done = await rm(app, 'server-2')
  const waited = Date.now() - started
  t.equal(done.statusCode, 200)
  t.ok(waited < 3000, `/rm answered after ${waited} ms, without waiting out the 4 s request`)
  t.same(done.json().message.replicas, ['server-0', 'server-1'])
  await slow
})
