import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { type Server, type Socket, connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { type DockerDriver, LABELS } from '../../lib/replicas/drivers/docker.js'
import { SOCKET, docker, dockerCli, dockerPs, dockerSkipReason, removeRun, startForeign, testRun } from '../docker-engine.js'
import { build, until } from '../helper.js'

/*
 * The docker driver against the real engine, with the balancer on the host
 * and its replicas on host networking (each on its own 127.0.0.1 port).
 */

const skip = await dockerSkipReason()
const json = { 'content-type': 'application/json' }

async function rep (app: FastifyInstance): Promise<{ N: number, replicas: string[] }> {
  return (await app.inject('/rep')).json()
}

t.test('replicas as containers on host networking', { skip }, async t => {
  const run = testRun()
  t.teardown(async () => await removeRun(run))
  const app = await build(t, { ...run.env, LB_REPLICAS: '2' })
  const own = `${LABELS.instance}=${run.instance}`
  const names = (...hostnames: string[]): string[] => hostnames.map(h => `${run.prefix}${h}`).sort()

  t.test('the starting replicas are labelled containers, visible to docker ps', async t => {
    t.same(await rep(app), { N: 2, replicas: ['server-0', 'server-1'] })
    t.same(await dockerPs(own), names('server-0', 'server-1'))
    const info = await docker.getContainer(`${run.prefix}server-1`).inspect()
    t.match(info.Config.Labels, { [LABELS.instance]: run.instance, [LABELS.hostname]: 'server-1', [LABELS.id]: '1', [LABELS.url]: /^http:\/\/127\.0\.0\.1:\d+$/ })
    t.equal(info.HostConfig.NetworkMode, 'host')
  })

  t.test('/add creates containers, /home reaches each of them, /rm removes them', async t => {
    const added = await app.inject({ method: 'POST', url: '/add', headers: json, payload: { n: 2, hostnames: ['extra'] } })
    t.equal(added.statusCode, 200, added.body)
    t.same(added.json(), { message: { N: 4, replicas: ['server-0', 'server-1', 'extra', 'server-3'] }, status: 'successful' })
    t.same(await dockerPs(own), names('extra', 'server-0', 'server-1', 'server-3'))

    const reached = new Set<string>()
    for (let id = 0; id < 200; id++) {
      const res = await app.inject(`/home?id=${id}`)
      const owner = (await app.inject(`/map_request?id=${id}`)).json()
      t.equal(res.statusCode, 200)
      t.equal(res.headers['x-ringlb-replica'], owner.hostname)
      t.same(res.json(), { message: `Hello from Server: ${owner.mapped_server as number}`, status: 'successful' })
      reached.add(owner.hostname)
    }
    t.same([...reached].sort(), ['extra', 'server-0', 'server-1', 'server-3'], 'every container served requests')

    const removed = await app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: { n: 2, hostnames: ['extra'] } })
    t.equal(removed.statusCode, 200, removed.body)
    t.same(removed.json().message, { N: 2, replicas: ['server-0', 'server-1'] })
    t.same(await dockerPs(own, true), names('server-0', 'server-1'), 'removed, not just stopped')
  })

  t.test('a docker-killed replica is replaced under the same name and id', async t => {
    const before = await dockerCli('inspect', '-f', '{{.Id}}', `${run.prefix}server-0`)
    const killedAt = Date.now()
    await dockerCli('kill', `${run.prefix}server-0`)
    await until('server-0 replaced', async () => {
      const driver = app.replicas.driver as DockerDriver
      const now = driver.containerId('server-0')
      return now !== undefined && now !== before && (await rep(app)).replicas.includes('server-0')
    })
    t.comment(`killed replica back in /rep after ${Date.now() - killedAt} ms`)
    const info = await docker.getContainer(`${run.prefix}server-0`).inspect()
    t.not(info.Id, before, 'a new container')
    t.equal(info.State.Running, true)
    t.equal(info.Config.Labels[LABELS.id], '0', 'the same numeric id')
    t.same(await rep(app), { N: 2, replicas: ['server-0', 'server-1'] })
    t.same(await dockerPs(own, true), names('server-0', 'server-1'), 'the dead container is gone')
    let id = 0
    while (app.ring.lookup(id)?.hostname !== 'server-0') id++
    const res = await app.inject(`/home?id=${id}`)
    t.same(res.json(), { message: 'Hello from Server: 0', status: 'successful' }, 'the new container serves its ids')
  })

  t.test('a frozen (docker pause) replica fails its heartbeats and is replaced', async t => {
    const before = await dockerCli('inspect', '-f', '{{.Id}}', `${run.prefix}server-1`)
    await dockerCli('pause', `${run.prefix}server-1`)
    await until('server-1 replaced', async () => {
      const now = (app.replicas.driver as DockerDriver).containerId('server-1')
      return now !== undefined && now !== before && (await rep(app)).replicas.includes('server-1')
    })
    const info = await docker.getContainer(`${run.prefix}server-1`).inspect()
    t.equal(info.State.Running && !info.State.Paused, true, 'a new, running container')
    t.same(await dockerPs(own, true), names('server-0', 'server-1'), 'the frozen one is removed')
  })

  t.test('a container the balancer did not start is never touched', async t => {
    const foreign = await startForeign(run, 'foreign')
    const rm = await app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: { n: 1, hostnames: ['foreign'] } })
    t.equal(rm.statusCode, 404)
    t.same(rm.json(), { message: "<Error> 'foreign' is not a replica of this balancer", status: 'failure' })

    const add = await app.inject({ method: 'POST', url: '/add', headers: json, payload: { n: 1, hostnames: ['foreign'] } })
    t.equal(add.statusCode, 409, 'the name is taken on the engine')
    t.match(add.json(), { message: /^<Error> could not start 'foreign': a container named '.*foreign' already exists$/, status: 'failure' })

    const driver = app.replicas.driver as DockerDriver
    await t.rejects(driver.remove('foreign'), { statusCode: 409, message: /was not started by this balancer/ }, 'the driver refuses it too')

    const info = await foreign.inspect()
    t.equal(info.State.Running, true, 'still running')
    t.equal(info.RestartCount, 0)
    t.same(await rep(app), { N: 2, replicas: ['server-0', 'server-1'] })
    t.same(await dockerPs(own, true), names('server-0', 'server-1'), 'nothing half-created')
    t.notOk((await driver.list()).some(r => r.hostname === 'foreign'), 'not listed as a replica')
  })
})

t.test('a missing image is a 404 and leaves no container', { skip }, async t => {
  const run = testRun()
  t.teardown(async () => await removeRun(run))
  const app = await build(t, { ...run.env, LB_REPLICAS: '0', LB_IMAGE: `ringlb-missing-${run.instance}:none` })
  const res = await app.inject({ method: 'POST', url: '/add', headers: json, payload: { n: 2 } })
  t.equal(res.statusCode, 404)
  // the engine's reason once, for both replicas
  t.match(res.json(), { message: /^<Error> could not start 'server-0', 'server-1': No such image: [^;]*make build[^;]*$/, status: 'failure' })
  t.same(await rep(app), { N: 0, replicas: [] })
  t.same(await dockerPs(`${LABELS.instance}=${run.instance}`, true), [])
})

/** A Unix socket in front of the engine's that the test can cut, as an engine going away. */
async function engineProxy (path: string): Promise<{ cut: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer(client => {
    const upstream = connect(SOCKET)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s)).on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
  })
  server.listen(path)
  await once(server, 'listening')
  return {
    cut: async () => {
      const closed = once(server, 'close')
      server.close()
      for (const s of sockets) s.destroy()
      await closed
    }
  }
}

t.test('an unreachable engine is a 503 and changes nothing', { skip }, async t => {
  const run = testRun()
  const socket = join(tmpdir(), `${run.instance}.sock`)
  t.teardown(async () => {
    rmSync(socket, { force: true })
    await removeRun(run)
  })
  const proxy = await engineProxy(socket)
  const app = await build(t, { ...run.env, LB_REPLICAS: '1', LB_DOCKER_SOCKET: socket })
  t.same(await rep(app), { N: 1, replicas: ['server-0'] })
  await proxy.cut()

  const add = await app.inject({ method: 'POST', url: '/add', headers: json, payload: { n: 1 } })
  t.equal(add.statusCode, 503)
  t.match(add.json(), { message: /^<Error> could not start 'server-1': Docker engine unreachable while trying to create container .*server-1/, status: 'failure' })

  const rm = await app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: { n: 1 } })
  t.equal(rm.statusCode, 502)
  t.match(rm.json(), { message: /^<Error> could not remove server-0: Docker engine unreachable/, status: 'failure' })

  t.same(await rep(app), { N: 1, replicas: ['server-0'] }, 'the ring is as it was')
  t.same(await dockerPs(`${LABELS.instance}=${run.instance}`, true), [`${run.prefix}server-0`], 'the replica still runs, nothing was added')
  t.equal((await app.inject('/home')).statusCode, 200, 'and still serves')
})

t.test('a replica that dies while the event stream is down is found when it reconnects', { skip }, async t => {
  const run = testRun()
  const socket = join(tmpdir(), `${run.instance}.sock`)
  t.teardown(async () => {
    rmSync(socket, { force: true })
    await removeRun(run)
  })
  let proxy = await engineProxy(socket)
  // heartbeats far apart: only the event stream and its resync can notice the death
  const app = await build(t, { ...run.env, LB_REPLICAS: '2', LB_DOCKER_SOCKET: socket, LB_HEARTBEAT_MS: '600000' })
  const driver = app.replicas.driver as DockerDriver
  const before = driver.containerId('server-1')
  await proxy.cut()
  await dockerCli('kill', `${run.prefix}server-1`)
  await sleep(500)
  t.equal(driver.containerId('server-1'), before, 'unseen while the stream is down')

  proxy = await engineProxy(socket)
  t.teardown(async () => { await proxy.cut() })
  await until('server-1 replaced after the resync', async () => {
    const now = driver.containerId('server-1')
    return now !== undefined && now !== before && (await rep(app)).replicas.includes('server-1')
  })
  const info = await docker.getContainer(`${run.prefix}server-1`).inspect()
  t.equal(info.State.Running, true)
  t.same(await dockerPs(`${LABELS.instance}=${run.instance}`, true), [`${run.prefix}server-0`, `${run.prefix}server-1`], 'the dead container is removed')
})
