import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, openSync, rmSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import Docker from 'dockerode'
import { LABELS } from '../../lib/replicas/drivers/docker.js'

/*
 * A real two-node Docker Swarm on one machine (../shared/SWARM.md): the
 * machine's engine is the manager, a second dockerd in a network namespace of
 * this run's own is the worker, joined over a veth pair. Everything is named
 * after the run, so runs never clash, and `teardown` removes all of it and
 * leaves the machine's engine outside any swarm, as it was found.
 */

const run = promisify(execFile)

export const TEST_RUN_LABEL = 'ringlb.test-run'

export interface SwarmCluster {
  /** this run's id: names and labels of everything it creates */
  id: string
  /** the replicas' and balancers' instance and service name prefix */
  instance: string
  prefix: string
  /** the attachable overlay network */
  network: string
  /** the image's ID, as services get it */
  imageId: string
  /** the worker's engine and its socket */
  node2: Docker
  node2Socket: string
  /** the worker node's address on the veth (the manager's is node1Address) */
  node1Address: string
  node2Address: string
  node2Hostname: string
  /** whether the machine's engine had a docker_gwbridge network before: teardown removes it only when not */
  gatewayBridgeExisted: boolean
  /** stops the worker's engine: a node lost */
  stopNode2: () => Promise<void>
  teardown: () => Promise<void>
}

async function sh (command: string, args: string[], options: { input?: string } = {}): Promise<string> {
  const { stdout } = await run(command, args, { maxBuffer: 16 << 20, ...options })
  return stdout.trim()
}

async function swarmState (socket?: string): Promise<string> {
  return await sh('docker', [...(socket === undefined ? [] : ['-H', `unix://${socket}`]), 'info', '-f', '{{.Swarm.LocalNodeState}}'])
}

/** A /30 for the veth pair, from 10.250.0.0/16, picked by the run id. */
function vethAddresses (bytes: Buffer): [string, string] {
  const base = `10.250.${bytes[0]}.${(bytes[1] & 0x3f) * 4}`
  const prefix = base.split('.').slice(0, 3).join('.')
  const last = Number(base.split('.')[3])
  return [`${prefix}.${last + 1}`, `${prefix}.${last + 2}`]
}

/**
 * Removes a network of the machine's engine, retried for up to 10 s: the endpoints of containers
 * just removed, or of the ingress sandbox right after `docker swarm leave` (`docker_gwbridge`),
 * may hold it a moment longer. Done when the network is gone.
 */
export async function removeNetwork (name: string): Promise<void> {
  const main = new Docker()
  for (let i = 0; ; i++) {
    try { await main.getNetwork(name).remove(); return } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return
      if (i >= 50) throw err
      await sleep(200)
    }
  }
}

export async function startSwarmCluster (image: string, log: (line: string) => void = () => {}): Promise<SwarmCluster> {
  const state = await swarmState()
  if (state !== 'inactive') throw new Error(`the machine's engine is already in a swarm (${state}): a two-node test swarm would change it; leave it first`)
  const bytes = randomBytes(4)
  const id = bytes.toString('hex')
  const netns = `rlb-${id}`
  const hostVeth = `rlbh${id}`
  const nsVeth = `rlbn${id}`
  const [node1Address, node2Address] = vethAddresses(bytes)
  const dir = `/tmp/rlb-${id}`
  const runDir = `/run/rlb-${id}`
  const node2Socket = `${runDir}/docker.sock`
  const node2Hostname = `rlb-node2-${id}`
  const gwbridgeExisted = await sh('docker', ['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$']) !== ''
  let dockerd: ChildProcess | undefined
  let swarmCreated = false
  const instance = `ringlb-swarm-${id}`
  const cluster: Partial<SwarmCluster> = { id, instance, prefix: `s${id}-`, network: `rlb-${id}`, node2Socket, node1Address, node2Address, node2Hostname, gatewayBridgeExisted: gwbridgeExisted }

  const stopNode2 = async (): Promise<void> => {
    if (dockerd?.pid === undefined || dockerd.exitCode !== null || dockerd.signalCode !== null) return
    const exited = new Promise(resolve => dockerd?.once('exit', resolve))
    dockerd.kill('SIGTERM')
    await Promise.race([exited, sleep(20_000)])
    if (dockerd.exitCode === null && dockerd.signalCode === null) {
      dockerd.kill('SIGKILL')
      await exited
    }
  }

  let tornDown = false
  const teardown = async (): Promise<void> => {
    if (tornDown) return
    tornDown = true
    process.removeListener('SIGTERM', onSignal)
    process.removeListener('SIGINT', onSignal)
    const main = new Docker()
    const quiet = async (what: string, step: () => Promise<unknown>): Promise<void> => {
      try { await step() } catch (err) { log(`teardown: ${what}: ${(err as Error).message}`) }
    }
    if (swarmCreated) {
      await quiet('containers', async () => {
        for (const c of await main.listContainers({ all: true, filters: { label: [`${TEST_RUN_LABEL}=${id}`] } })) await main.getContainer(c.Id).remove({ force: true })
      })
      // the swarm is this run's own: everything in it is too
      await quiet('services', async () => {
        for (const s of await main.listServices()) await main.getService(s.ID).remove()
      })
      await quiet('configs', async () => {
        for (const c of await main.listConfigs()) await main.getConfig(c.ID).remove()
      })
      await quiet('task containers', async () => {
        for (let i = 0; i < 100 && (await main.listContainers({ all: true, filters: { label: ['com.docker.swarm.task.id'] } })).length > 0; i++) await sleep(200)
      })
      await quiet('network', async () => { await removeNetwork(cluster.network as string) })
      await quiet('node 2 leaves', async () => { if (dockerd?.exitCode === null) await sh('docker', ['-H', `unix://${node2Socket}`, 'swarm', 'leave', '--force']) })
      await quiet('swarm leave', async () => { await sh('docker', ['swarm', 'leave', '--force']) })
    }
    await quiet('node 2 engine', stopNode2)
    if (!gwbridgeExisted) await quiet('docker_gwbridge', async () => { await removeNetwork('docker_gwbridge') })
    await quiet('namespace', async () => { await sh('ip', ['netns', 'del', netns]) })
    await quiet('link', async () => { await sh('ip', ['link', 'del', hostVeth]).catch(() => {}) })
    await quiet('directories', async () => {
      await sh('umount', ['-R', dir]).catch(() => {})
      rmSync(dir, { recursive: true, force: true })
      rmSync(runDir, { recursive: true, force: true })
    })
  }

  // tap stops a suite past its timeout with SIGTERM: the swarm must not outlive it
  const onSignal = (signal: NodeJS.Signals): void => { void teardown().finally(() => process.kill(process.pid, signal)) }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  try {
    await sh('ip', ['netns', 'add', netns])
    await sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nsVeth])
    await sh('ip', ['link', 'set', nsVeth, 'netns', netns])
    await sh('ip', ['addr', 'add', `${node1Address}/30`, 'dev', hostVeth])
    await sh('ip', ['link', 'set', hostVeth, 'up'])
    await sh('ip', ['-n', netns, 'addr', 'add', `${node2Address}/30`, 'dev', nsVeth])
    await sh('ip', ['-n', netns, 'link', 'set', nsVeth, 'up'])
    await sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up'])

    mkdirSync(`${dir}/data`, { recursive: true })
    mkdirSync(runDir, { recursive: true })
    const out = openSync(`${dir}/dockerd.log`, 'a')
    // nsenter, not `ip netns exec`, which remounts /sys and hides the cgroup mounts; its own UTS so the nodes have two names
    dockerd = spawn('nsenter', [`--net=/var/run/netns/${netns}`, 'unshare', '--uts', 'sh', '-c',
      `hostname ${node2Hostname} && exec dockerd --data-root ${dir}/data --exec-root ${runDir}/exec --pidfile ${runDir}/docker.pid -H unix://${node2Socket} --bridge none`],
    { env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' }, stdio: ['ignore', out, out] })
    const node2 = new Docker({ socketPath: node2Socket })
    for (let i = 0; ; i++) {
      try { await node2.ping(); break } catch {
        if (i > 150 || dockerd.exitCode !== null) throw new Error(`the second engine did not start (see ${dir}/dockerd.log)`)
        await sleep(100)
      }
    }
    log(`node 2 engine up in namespace ${netns}`)
    await sh('sh', ['-c', `docker save ${image} | docker -H unix://${node2Socket} load -q`])
    const imageId = await sh('docker', ['image', 'inspect', '-f', '{{.Id}}', image])
    log(`image ${imageId.slice(0, 19)} loaded on node 2`)

    swarmCreated = true
    await sh('docker', ['swarm', 'init', '--advertise-addr', node1Address, '--listen-addr', `${node1Address}:2377`, '--dispatcher-heartbeat', '1s'])
    const token = await sh('docker', ['swarm', 'join-token', '-q', 'worker'])
    await sh('docker', ['-H', `unix://${node2Socket}`, 'swarm', 'join', '--token', token, '--advertise-addr', node2Address, '--listen-addr', `${node2Address}:2377`, `${node1Address}:2377`])
    for (let i = 0; ; i++) {
      const ready = (await sh('docker', ['node', 'ls', '--format', '{{.Status}}'])).split('\n').filter(s => s === 'Ready').length
      if (ready === 2) break
      if (i > 100) throw new Error('node 2 did not become Ready')
      await sleep(100)
    }
    await sh('docker', ['network', 'create', '-d', 'overlay', '--attachable', '--label', `${TEST_RUN_LABEL}=${id}`, cluster.network as string])
    log('two-node swarm ready')
    return { ...cluster, imageId, node2, stopNode2, teardown } as SwarmCluster
  } catch (err) {
    await teardown()
    throw err
  }
}

/** The node each running task of the instance's services is on, by hostname label. */
export async function taskNodes (cluster: SwarmCluster): Promise<Map<string, string>> {
  const main = new Docker()
  const nodes = new Map((await main.listNodes()).map(n => [n.ID as string, n.Description?.Hostname as string]))
  const services = await main.listServices({ filters: { label: [`${LABELS.instance}=${cluster.instance}`] } })
  const byService = new Map(services.map(s => [s.ID as string, s.Spec?.Labels?.[LABELS.hostname] as string]))
  const tasks = await main.listTasks({ filters: { 'desired-state': ['running'] } }) as Array<{ ServiceID: string, NodeID: string, Status: { State: string }, CreatedAt: string }>
  const out = new Map<string, string>()
  for (const task of tasks.sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt))) {
    const hostname = byService.get(task.ServiceID)
    if (hostname !== undefined && task.Status.State === 'running') out.set(hostname, nodes.get(task.NodeID) ?? task.NodeID)
  }
  return out
}

export interface SwarmBalancer {
  name: string
  /** http://127.0.0.1:<published port> */
  url: string
  container: Docker.Container
  /** stops and starts the container again (a restarted balancer), with a fresh published port */
  restart: () => Promise<void>
}

/**
 * A balancer of the cluster's instance, as a container on the overlay (the
 * host cannot reach overlay addresses; a container on the network can),
 * published on an ephemeral port of 127.0.0.1; answers once /rep shows
 * `replicas` replicas.
 */
export async function startBalancer (cluster: SwarmCluster, name: string, replicas: number, env: Record<string, string> = {}): Promise<SwarmBalancer> {
  const main = new Docker()
  const container = await main.createContainer({
    name: `${cluster.prefix}lb-${name}`,
    Image: cluster.imageId,
    User: 'root',
    Env: Object.entries({
      LB_DRIVER: 'swarm',
      LB_INSTANCE: cluster.instance,
      LB_CONTAINER_PREFIX: cluster.prefix,
      LB_NETWORK: cluster.network,
      LB_IMAGE: cluster.imageId,
      LB_REPLICAS: String(replicas),
      LB_HEARTBEAT_MS: '500',
      LB_HEARTBEAT_TIMEOUT_MS: '500',
      LB_SWARM_POLL_MS: '250',
      LB_DRAIN_MS: '2000',
      ...env
    }).map(([k, v]) => `${k}=${v}`),
    Labels: { [TEST_RUN_LABEL]: cluster.id },
    HostConfig: {
      NetworkMode: cluster.network,
      Binds: ['/var/run/docker.sock:/var/run/docker.sock'],
      PortBindings: { '5000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }
    }
  })
  const balancer: SwarmBalancer = {
    name,
    url: '',
    container,
    restart: async () => {
      await container.restart({ t: 15 })
      await ready()
    }
  }
  const ready = async (): Promise<void> => {
    const info = await container.inspect()
    balancer.url = `http://127.0.0.1:${info.NetworkSettings.Ports['5000/tcp']?.[0]?.HostPort as string}`
    const deadline = Date.now() + 120_000
    for (;;) {
      try {
        // docker-proxy may accept before the balancer listens and then hold the connection: never wait long on one try
        const res = await fetch(`${balancer.url}/rep`, { signal: AbortSignal.timeout(2000) })
        if (res.ok && ((await res.json()) as { N: number }).N >= replicas) return
      } catch {}
      if (Date.now() > deadline) {
        const logs = await container.logs({ stdout: true, stderr: true, tail: 30 })
        throw new Error(`balancer ${name} not ready with ${replicas} replicas:\n${logs.toString()}`)
      }
      await sleep(200)
    }
  }
  await container.start()
  await ready()
  return balancer
}

/** Polls `ok` every 20 ms until it is true (a throw counts as false); how long that took, or an error past `ms`. */
export async function until (what: string, ok: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now()
  while (!(await ok().catch(() => false))) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(20)
  }
  return Date.now() - started
}
