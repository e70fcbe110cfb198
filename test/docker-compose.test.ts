import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { request } from 'undici'
import { LABELS } from '../lib/replicas/drivers/docker.js'
import { freePort } from '../lib/free-port.js'
import { IMAGE, docker, dockerCli, dockerPs, dockerSkipReason, removeRun, testRun } from './docker-engine.js'
import { until } from './helper.js'

/*
 * The deployment as a user runs it: `make up-detached` starts the balancer
 * container (fastify-cli, Docker socket mounted) on a compose network, where
 * it reaches its replica containers by name; `make down` leaves nothing.
 */

const skip = await dockerSkipReason()
const root = fileURLToPath(new URL('..', import.meta.url))
const exec = promisify(execFile)

async function containerIds (label: string): Promise<string[]> {
  return (await docker.listContainers({ all: true, filters: { label: [label] } })).map(c => c.Id).sort()
}

t.test('make up-detached → /home → /add, /rm, kill, balancer restart → make down leaves no container', { skip }, async t => {
  const run = testRun()
  const port = await freePort('0.0.0.0')
  const deployment = {
    ...process.env,
    RINGLB_PORT: String(port),
    RINGLB_IMAGE: IMAGE,
    RINGLB_INSTANCE: run.instance,
    RINGLB_PROJECT: run.instance,
    RINGLB_NETWORK: run.instance,
    RINGLB_CONTAINER_PREFIX: run.prefix,
    LB_REPLICAS: '3',
    LB_HASH: 'maglev'
  }
  const make = async (target: string): Promise<void> => { await exec('make', ['-s', target], { cwd: root, env: deployment }) }
  t.teardown(async () => {
    await make('down').catch(() => {})
    await removeRun(run)
    await docker.getNetwork(run.instance).remove().catch(() => {})
  })
  const base = `http://127.0.0.1:${port}`
  const call = async (path: string, method: 'GET' | 'POST' | 'DELETE' = 'GET', body?: object) => {
    const res = await request(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    return { status: res.statusCode, headers: res.headers, body: await res.body.json() as any }
  }
  const replicas = async (): Promise<string[]> => (await call('/rep')).body.replicas
  const own = `${LABELS.instance}=${run.instance}`
  const names = (...hostnames: string[]): string[] => hostnames.map(h => `${run.prefix}${h}`).sort()

  await make('up-detached')
  await until('the deployment serves 3 replicas', async () => {
    const up = await call('/rep').catch(() => undefined)
    return up?.status === 200 && up.body.N === 3
  }, 60_000, 200)

  t.same(await dockerPs(own), names('server-0', 'server-1', 'server-2'), 'three replica containers')
  const replica = await docker.getContainer(`${run.prefix}server-0`).inspect()
  t.equal(replica.HostConfig.NetworkMode, run.instance, 'on the deployment network')
  t.match(replica.Config.Labels, { [LABELS.url]: `http://${run.prefix}server-0:5000` }, 'reached by container name')

  const home = await call('/home?id=123456')
  t.equal(home.status, 200)
  const owner = (await call('/map_request?id=123456')).body
  t.equal(home.headers['x-ringlb-replica'], owner.hostname)
  t.same(home.body, { message: `Hello from Server: ${owner.mapped_server as number}`, status: 'successful' })

  const added = await call('/add', 'POST', { n: 1 })
  t.equal(added.status, 200)
  t.same(await dockerPs(own), names('server-0', 'server-1', 'server-2', 'server-3'))
  const removed = await call('/rm', 'DELETE', { n: 1, hostnames: ['server-1'] })
  t.same(removed.body.message, { N: 3, replicas: ['server-0', 'server-2', 'server-3'] })
  t.same(await dockerPs(own, true), names('server-0', 'server-2', 'server-3'))

  const killed = await dockerCli('inspect', '-f', '{{.Id}}', `${run.prefix}server-2`)
  await dockerCli('kill', `${run.prefix}server-2`)
  await until('the killed replica replaced', async () => {
    const now = await dockerCli('inspect', '-f', '{{.Id}} {{.State.Running}}', `${run.prefix}server-2`).catch(() => '')
    return now !== '' && !now.startsWith(killed) && now.endsWith('true') && (await replicas()).includes('server-2')
  }, 60_000, 200)
  t.same(await replicas(), ['server-0', 'server-2', 'server-3'], 'the balancer in its container replaced the killed replica')

  const before = await containerIds(own)
  const [balancer] = await dockerPs(`com.docker.compose.project=${run.instance}`)
  await dockerCli('restart', balancer)
  await until('the restarted balancer serves', async () => (await call('/rep').catch(() => undefined))?.status === 200, 60_000, 200)
  t.same(await replicas(), ['server-0', 'server-2', 'server-3'], 'the restarted balancer adopted its replicas')
  t.same(await containerIds(own), before, 'the same containers, none added or replaced')
  t.equal((await call('/home?id=123456')).status, 200)

  await make('down')
  t.same(await dockerPs(own, true), [], 'no replica container left')
  t.same(await dockerPs(`com.docker.compose.project=${run.instance}`, true), [], 'no balancer container left')
  await t.rejects(docker.getNetwork(run.instance).inspect(), { statusCode: 404, message: /network/i }, 'the network is gone')
})
