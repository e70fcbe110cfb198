import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { LABELS } from '../../lib/replicas/drivers/docker.js'
import { docker, dockerCli, dockerPs, dockerSkipReason, removeRun, testRun } from '../docker-engine.js'
import { sixDigitIds } from '../fixtures.js'
import { build } from '../helper.js'

/*
 * Container replicas outlive their balancer: a restarted balancer adopts them
 * from their labels and rebuilds the same ring, loses none, leaves no orphan.
 */

const skip = await dockerSkipReason()
const ids = sixDigitIds(1000, 3)

async function mapping (app: FastifyInstance): Promise<string[]> {
  return await Promise.all(ids.map(async id => {
    const { mapped_server: server, hostname } = (await app.inject(`/map_request?id=${id}`)).json()
    return `${id}:${server as number}:${hostname as string}`
  }))
}

/** hostname → container id of the run's containers, running or not */
async function containers (instance: string): Promise<Record<string, string>> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABELS.instance}=${instance}`] } })
  return Object.fromEntries(list.map(c => [c.Labels[LABELS.hostname], c.Id]))
}

for (const hash of ['assignment', 'maglev']) {
  t.test(`a restarted balancer adopts its replicas with the same mapping for 1,000 ids (${hash})`, { skip }, async t => {
    const run = testRun()
    t.teardown(async () => await removeRun(run))
    const env = { ...run.env, LB_HASH: hash, LB_REPLICAS: '3' }
    const own = `${LABELS.instance}=${run.instance}`

    const first = await build(t, env)
    const change = async (method: 'POST' | 'DELETE', url: string, payload: object): Promise<void> => {
      const res = await first.inject({ method, url, headers: { 'content-type': 'application/json' }, payload })
      t.equal(res.statusCode, 200, `${url} ${JSON.stringify(payload)}`)
    }
    // a lower id joining after higher ones: the ring's history is not the adoption order
    await change('POST', '/add', { n: 2, hostnames: ['named'] })
    await change('DELETE', '/rm', { n: 1, hostnames: ['server-1'] })
    await change('POST', '/add', { n: 1 })
    const rep = (await first.inject('/rep')).json()
    const mapped = await mapping(first)
    const before = await containers(run.instance)
    await first.close()

    t.same(await containers(run.instance), before, 'the containers outlive the balancer')
    t.equal((await dockerPs(own)).length, 5, 'and keep running')

    const second = await build(t, env)
    t.same((await second.inject('/rep')).json(), rep, 'the same replicas')
    t.same(await mapping(second), mapped, 'every id maps to the same replica and numeric id')
    t.same(await containers(run.instance), before, 'adopted: no container added or replaced')
    const home = await second.inject(`/home?id=${ids[0]}`)
    t.equal(home.json().message, `Hello from Server: ${mapped[0].split(':')[1]}`)
  })
}

t.test('a replica that died while no balancer watched is replaced, and its container removed', { skip }, async t => {
  const run = testRun()
  t.teardown(async () => await removeRun(run))
  const env = { ...run.env, LB_REPLICAS: '3' }

  const first = await build(t, env)
  const mapped = await mapping(first)
  await first.close()
  const before = await containers(run.instance)
  await dockerCli('kill', `${run.prefix}server-1`)

  const second = await build(t, env)
  t.same((await second.inject('/rep')).json(), { N: 3, replicas: ['server-0', 'server-1', 'server-2'] })
  const after = await containers(run.instance)
  t.same(Object.keys(after).sort(), ['server-0', 'server-1', 'server-2'], 'no exited container left behind')
  t.not(after['server-1'], before['server-1'], 'server-1 is a new container')
  t.equal(after['server-0'], before['server-0'])
  t.equal(after['server-2'], before['server-2'])
  t.same(await mapping(second), mapped, 'under the same name and id, so the mapping holds')
})
