import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Docker from 'dockerode'
import t, { type Test as Tap } from 'tap'
import { LABELS } from '../lib/replicas/drivers/docker.js'
import { freePort } from '../lib/free-port.js'
import { SwarmDriver, TASK_INSTANCE_LABEL } from '../lib/replicas/drivers/swarm.js'
import { swarmChaos } from '../scripts/chaos/swarm.js'
import { IMAGE, dockerSkipReason } from './docker-engine.js'
import { type SwarmBalancer, type SwarmCluster, TEST_RUN_LABEL, removeNetwork, startBalancer, startSwarmCluster, taskNodes, until } from '../scripts/lib/swarm-cluster.js'

/*
 * LB_DRIVER=swarm on a real two-node swarm built on this machine: the
 * machine's engine (manager) and a second engine in a network namespace
 * (worker). Balancers run as containers on the overlay; traffic goes to their
 * published ports on 127.0.0.1 only.
 */

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const REPLICAS = 4
const IDS = Array.from({ length: 1000 }, (_, i) => 100_000 + i * 7919 % 900_000)

const skip = await dockerSkipReason()
if (skip !== false) {
  t.plan(0, `swarm suite: ${skip}`)
} else {
  t.setTimeout(900_000)
  let cluster: SwarmCluster | undefined
  t.teardown(async () => { await cluster?.teardown() })
  cluster = await startSwarmCluster(IMAGE, line => { t.comment(line) })
  await suite(cluster)
}

async function json<T> (url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

async function ring (b: SwarmBalancer): Promise<{ N: number, replicas: string[], digest: string }> {
  const [rep, layout] = await Promise.all([json<{ N: number, replicas: string[] }>(`${b.url}/rep`), json<{ digest: string }>(`${b.url}/ring`)])
  return { ...rep, digest: layout.digest }
}

/** Where each of the 1,000 ids goes on a balancer, by /map_request. */
async function mapping (b: SwarmBalancer): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < IDS.length; i += 50) {
    const chunk = IDS.slice(i, i + 50).map(async id => (await json<{ hostname: string }>(`${b.url}/map_request?id=${id}`)).hostname)
    out.push(...await Promise.all(chunk))
  }
  return out
}

async function suite (cluster: SwarmCluster): Promise<void> {
  const main = new Docker()
  const a = await startBalancer(cluster, 'a', REPLICAS)

  await t.test('replicas are Swarm services spread over both nodes, and the balancer reaches the tasks on the other node', async t => {
    const nodes = await taskNodes(cluster)
    t.equal(nodes.size, REPLICAS, `tasks: ${[...nodes].map(([h, n]) => `${h}@${n}`).join(', ')}`)
    t.equal(new Set(nodes.values()).size, 2, 'on two nodes')
    const services = await main.listServices({ filters: { label: [`${LABELS.instance}=${cluster.instance}`] } })
    for (const service of services) {
      t.match(service.Spec?.TaskTemplate, { ContainerSpec: { Image: /^sha256:[0-9a-f]{64}$/ }, RestartPolicy: { Condition: 'any', Delay: 0 } }, 'image by ID, restarted at once')
      t.equal(service.Spec?.EndpointSpec?.Mode, 'dnsrr')
      t.equal(service.Spec?.Name, `${cluster.prefix}${service.Spec?.Labels?.[LABELS.hostname] as string}`)
    }
    const onNode2 = [...nodes].filter(([, node]) => node === cluster.node2Hostname).map(([h]) => h)
    const answered = new Set<string>()
    const mapped = await mapping(a)
    let agree = 0
    for (const [i, id] of IDS.entries()) {
      const res = await fetch(`${a.url}/home?id=${id}`, { signal: AbortSignal.timeout(10_000) })
      await res.arrayBuffer()
      const replica = res.headers.get('x-ringlb-replica') ?? ''
      if (res.status === 200 && replica === mapped[i]) agree++
      answered.add(replica)
    }
    t.equal(agree, IDS.length, `/map_request agrees with x-ringlb-replica for ${agree} of ${IDS.length} ids`)
    t.ok(onNode2.some(h => answered.has(h)), `replicas on node 2 (${onNode2.join(', ')}) answered`)
  })

  await t.test('under load, a task killed on node 2 and then node 2 lost: 0 failed GETs, the ring converges, N back to target', async t => {
    const report = await swarmChaos(cluster, a, { replicas: REPLICAS, connections: 8, duration: 40, killAt: 3, loseNodeAt: 12, log: line => { t.comment(line) } })
    t.ok(report.killOutMs <= 3000, `the ring reflected the dead task within 3 s (${report.killOutMs} ms)`)
    t.ok(report.killBackMs <= 10_000, `and the task Swarm started in its place within 10 s (${report.killBackMs} ms)`)
    t.equal(report.failed, 0, `0 failed GETs of ${report.sent} ${report.failures.join('; ')}`)
    t.ok(report.sent > 1000, `${report.sent} requests under load`)
    t.equal((await ring(a)).N, REPLICAS, 'N back to target')
    t.same(new Set((await taskNodes(cluster)).values()), new Set([(await dockerInfo('{{.Name}}'))]), 'every task now on node 1')
  })

  await t.test('two balancers agree on 1,000 ids and on the digest, before and after an /add sent to one of them', async t => {
    const b = await startBalancer(cluster, 'b', REPLICAS)
    const before = [await ring(a), await ring(b)]
    t.equal(before[0].digest, before[1].digest, `digest ${before[0].digest} on both`)
    t.same(await mapping(b), await mapping(a), '1,000 ids routed alike')

    const added = await fetch(`${b.url}/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 1, hostnames: ['late-comer'] }) })
    t.equal(added.status, 200, await added.text())
    const seenMs = await until('a sees the replica added on b', async () => (await ring(a)).digest === (await ring(b)).digest, 5000)
    t.comment(`the other balancer followed the /add in ${seenMs} ms`)
    const after = [await ring(a), await ring(b)]
    t.not(after[0].digest, before[0].digest)
    t.equal(after[0].N, REPLICAS + 1)
    const mapA = await mapping(a)
    t.same(await mapping(b), mapA, '1,000 ids routed alike after the /add')
    t.ok(mapA.includes('late-comer'), 'the new replica owns some of them')

    await t.test('two /adds at once on the two balancers give no hostname or id twice', async t => {
      const add = async (b: SwarmBalancer): Promise<{ status: number, body: string }> => {
        const res = await fetch(`${b.url}/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 2 }), signal: AbortSignal.timeout(60_000) })
        return { status: res.status, body: await res.text() }
      }
      const answers = await Promise.all([add(a), add(b)])
      for (const answer of answers) t.equal(answer.status, 200, answer.body)
      const services = await main.listServices({ filters: { label: [`${LABELS.instance}=${cluster.instance}`] } })
      const hostnames = services.map(s => s.Spec?.Labels?.[LABELS.hostname])
      const ids = services.map(s => s.Spec?.Labels?.[LABELS.id])
      t.equal(services.length, REPLICAS + 5, `services: ${hostnames.join(', ')}`)
      t.equal(new Set(hostnames).size, services.length, 'no hostname twice')
      t.equal(new Set(ids).size, services.length, `no id twice (${ids.join(', ')})`)
      await until('both balancers route alike again', async () => {
        const [ra, rb] = await Promise.all([ring(a), ring(b)])
        return ra.N === REPLICAS + 5 && ra.digest === rb.digest
      }, 10_000)
      t.same(await mapping(b), await mapping(a), '1,000 ids routed alike')
    })

    await t.test('a restarted balancer adopts the services with the same mapping', async t => {
      const beforeRestart = await mapping(b)
      const digest = (await ring(b)).digest
      await b.restart()
      t.same(await mapping(b), beforeRestart, 'same 1,000 routes after the restart')
      t.equal((await ring(b)).digest, digest)
    })
  })

  await t.test('a replica Swarm cannot place within LB_READY_TIMEOUT_MS is a 503, and its service and id are removed', async t => {
    const driver = new SwarmDriver({
      socketPath: '/var/run/docker.sock',
      image: IMAGE,
      network: cluster.network,
      instance: cluster.instance,
      namePrefix: cluster.prefix,
      constraints: ['node.labels.ringlb-no-such-node==true'],
      readyTimeoutMs: 2000
    })
    t.teardown(async () => { await driver.close() })
    await t.rejects(driver.create({ id: 90, hostname: 'nowhere' }), { statusCode: 503, message: /did not run a task of service '.*nowhere' within 2000 ms \(pending: no suitable node/ })
    t.same(await main.listServices({ filters: { name: [`${cluster.prefix}nowhere`] } }), [], 'its service is removed')
    t.same((await main.listConfigs({ filters: { name: [`${cluster.prefix}${cluster.instance}.id.90`] } })), [], 'its id is free again')
  })

  await t.test('make swarm-up deploys the stack on the swarm and serves /home on its port; make swarm-down leaves nothing of it', async t => {
    await makeSwarmUpDown(t, cluster.id, `${cluster.instance}-stack`)
    t.equal(await dockerInfo('{{.Swarm.LocalNodeState}}'), 'active', 'and the swarm it did not make is left alone')
  })

  await t.test('afterwards no service, network, engine, namespace or swarm is left', async t => {
    await cluster.teardown()
    t.equal(await dockerInfo('{{.Swarm.LocalNodeState}}'), 'inactive', 'the machine\'s engine is in no swarm')
    t.same((await main.listServices().catch(() => [])).length, 0)
    t.equal((await run('docker', ['network', 'ls', '-q', '--filter', `name=${cluster.network}`])).stdout.trim(), '', 'no overlay network')
    t.equal((await run('docker', ['ps', '-aq', '--filter', `label=${TASK_INSTANCE_LABEL}=${cluster.instance}`])).stdout.trim(), '', 'no task container')
    t.equal((await run('docker', ['ps', '-aq', '--filter', `label=${TEST_RUN_LABEL}=${cluster.id}`])).stdout.trim(), '', 'no balancer container')
    t.notOk((await run('ip', ['netns', 'list'])).stdout.includes(`rlb-${cluster.id}`), 'no namespace')
    await t.rejects(cluster.node2.ping(), 'no second engine')
    if (!cluster.gatewayBridgeExisted) t.equal((await run('docker', ['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$'])).stdout.trim(), '', 'no gateway bridge the swarm made')
  })

  await t.test('from an engine in no swarm, make swarm-up makes a single-node swarm and serves /home; make swarm-down leaves no swarm either', async t => {
    t.teardown(async () => {
      // whatever happened, the shared engine is left as it was found: in no swarm
      if (await dockerInfo('{{.Swarm.LocalNodeState}}') !== 'inactive') {
        await run('docker', ['swarm', 'leave', '--force'])
        await removeNetwork('docker_gwbridge').catch(() => {})
      }
    })
    await makeSwarmUpDown(t, `${cluster.id}single`, `${cluster.instance}-single`)
    t.equal(await dockerInfo('{{.Swarm.LocalNodeState}}'), 'inactive', 'the swarm it made is gone')
    t.equal((await run('docker', ['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$'])).stdout.trim(), '', 'and its gateway bridge')
  })
}

/** `make swarm-up` with this run's names on a free port, /home served by 2 replica services, then `make swarm-down` and nothing of it left. */
async function makeSwarmUpDown (t: Tap, id: string, instance: string): Promise<void> {
  const main = new Docker()
  const port = await freePort('127.0.0.1')
  const env = {
    ...process.env,
    RINGLB_IMAGE: IMAGE,
    RINGLB_PORT: String(port),
    RINGLB_STACK: `s${id}stack`,
    RINGLB_INSTANCE: instance,
    RINGLB_SWARM_NETWORK: `rlb-${id}-stack`,
    RINGLB_SWARM_PREFIX: `s${id}st-`,
    LB_REPLICAS: '2'
  }
  const make = async (target: string): Promise<void> => { await run('make', ['-s', target], { env, cwd: ROOT }) }
  try {
    await make('swarm-up')
    const readyMs = await until('the stack\'s balancer serves /home with 2 replicas', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/home?id=42`, { signal: AbortSignal.timeout(2000) })
      return res.status === 200 && (await json<{ N: number }>(`http://127.0.0.1:${port}/rep`)).N === 2
    }, 120_000)
    t.comment(`make swarm-up: /home served after ${readyMs} ms`)
    const services = await main.listServices({ filters: { label: [`${LABELS.instance}=${instance}`] } })
    t.equal(services.length, 2, 'its replicas are Swarm services')
  } finally {
    await make('swarm-down')
  }
  t.same(await main.listServices({ filters: { label: [`com.docker.stack.namespace=${env.RINGLB_STACK}`] } }).catch(() => []), [], 'no stack service')
  t.same(await main.listServices({ filters: { label: [`${LABELS.instance}=${instance}`] } }).catch(() => []), [], 'no replica service')
  t.same(await main.listConfigs({ filters: { label: [`${LABELS.instance}=${instance}`] } }).catch(() => []), [], 'no id reservation')
  t.equal((await run('docker', ['network', 'ls', '-q', '--filter', `name=${env.RINGLB_SWARM_NETWORK}`])).stdout.trim(), '', 'no network')
  t.equal((await run('docker', ['ps', '-aq', '--filter', `label=${TASK_INSTANCE_LABEL}=${instance}`])).stdout.trim(), '', 'no task container')
}

async function dockerInfo (format: string): Promise<string> {
  return (await run('docker', ['info', '-f', format])).stdout.trim()
}
