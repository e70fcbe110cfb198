import Docker from 'dockerode'
import { LbError } from '../../errors.js'
import { freePort } from '../../free-port.js'
import { ContainerEvents, type ContainerEvent } from './docker-events.js'
import { engineError, engineReason, isUnreachable, statusOf } from './docker-errors.js'
import type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from './driver.js'

/** The labels on every replica container: whose it is, and the replica's identity, enough to adopt it. */
export const LABELS = {
  instance: 'ringlb.instance',
  hostname: 'ringlb.hostname',
  id: 'ringlb.id',
  url: 'ringlb.url'
} as const

export interface DockerDriverOptions {
  /** the engine's Unix socket */
  socketPath: string
  /** the shared image; replicas run `node dist/replica/server.js` in it */
  image: string
  /** LB_REPLICA_IMAGE: an image of the user's to run instead, with its own entrypoint */
  replicaImage?: string
  /** LB_REPLICA_PORT (5000): on a container network, the port replicas listen on inside their containers */
  replicaPort?: number
  /** LB_REPLICA_ENV: extra environment for every replica */
  replicaEnv?: Record<string, string>
  /** `host`: host networking, each replica on its own port of `replicaHost`; else the network replicas join, reached by container name */
  network: string
  /** the balancer instance, the ownership label */
  instance: string
  /** put before each hostname to make the container name, so balancers can share an engine */
  namePrefix: string
  /** host networking: the address replicas listen on and are reached at */
  replicaHost: string
  /** how long one engine call may take */
  requestTimeoutMs?: number
  /**
   * seconds a replica gets to exit after SIGTERM before the engine kills it
   * (2): a healthy replica exits at once, its requests drained already; one
   * that does not is stuck, and its replacement should not wait on it
   */
  stopTimeoutS?: number
}

interface Tracked {
  containerId: string
  handle: ReplicaHandle
  /** host networking: the port it listens on */
  port: number
  /** set once the container runs: before that, not running is no death */
  started: number
}

/**
 * Replicas as containers of the shared image, through the engine's socket.
 * Ownership is by label: the driver lists, counts and removes only containers
 * labelled with its instance, and refuses any other. Deaths come from the
 * engine's event stream (die, oom) for the driver's own labels; containers
 * outlive the balancer and are adopted by the next one from their labels.
 */
export class DockerDriver implements Driver {
  readonly name = 'docker'
  private readonly docker: Docker
  private readonly events: ContainerEvents
  private readonly listeners: Array<(exit: ReplicaExit) => void> = []
  private readonly tracked = new Map<string, Tracked>()
  /** container ids being stopped on purpose: their death is no failure */
  private readonly stopping = new Set<string>()
  /** ports handed to replicas still being created */
  private readonly pendingPorts = new Set<number>()
  private starts = 0
  private closed = false

  constructor (private readonly options: DockerDriverOptions) {
    this.docker = new Docker({ socketPath: options.socketPath, timeout: options.requestTimeoutMs ?? 60_000 })
    // the event stream stays open for the driver's life, so it gets a connection without the per-call timeout
    this.events = new ContainerEvents(new Docker({ socketPath: options.socketPath }), {
      labels: [this.ownLabel()],
      actions: ['die', 'oom'],
      onEvent: event => { this.onEvent(event) },
      onConnect: () => { void this.resync().catch(() => {}) }
    })
  }

  private get hostNetwork (): boolean {
    return this.options.network === 'host'
  }

  /** The container name of a replica: its hostname, after the configured prefix. */
  containerName (hostname: string): string {
    return `${this.options.namePrefix}${hostname}`
  }

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    if (this.closed) throw new LbError(503, 'the Docker driver is closed')
    const name = this.containerName(spec.hostname)
    const port = this.hostNetwork ? await this.reservePort() : this.replicaPort
    const url = this.hostNetwork ? `http://${this.options.replicaHost}:${port}` : `http://${name}:${port}`
    const handle: ReplicaHandle = { ...spec, url }
    try {
      let container: Docker.Container
      try {
        container = await this.docker.createContainer(this.containerOptions(name, handle, port))
      } catch (err) {
        throw this.createError(err, name)
      }
      const tracked: Tracked = { containerId: container.id, handle, port, started: 0 }
      this.tracked.set(spec.hostname, tracked)
      try {
        await container.start()
        tracked.started = ++this.starts
      } catch (err) {
        this.tracked.delete(spec.hostname)
        await container.remove({ force: true }).catch(() => {})
        throw engineError(err, `start container '${name}'`)
      }
      return handle
    } finally {
      this.pendingPorts.delete(port)
    }
  }

  private get replicaPort (): number {
    return this.options.replicaPort ?? 5000
  }

  /**
   * A replica's container. The user's image (LB_REPLICA_IMAGE) keeps its own
   * entrypoint and command; like the built-in replica it is told its PORT: on
   * host networking a free host port it must listen on (replicas share the
   * host's ports), else LB_REPLICA_PORT.
   */
  private containerOptions (name: string, handle: ReplicaHandle, port: number): Docker.ContainerCreateOptions {
    const { replicaImage } = this.options
    return {
      name,
      Image: replicaImage ?? this.options.image,
      ...(replicaImage === undefined ? { Cmd: ['node', 'dist/replica/server.js'] } : {}),
      Env: [
        ...Object.entries(this.options.replicaEnv ?? {}).map(([key, value]) => `${key}=${value}`),
        `SERVER_ID=${handle.id}`,
        `REPLICA_NAME=${handle.hostname}`,
        `PORT=${port}`,
        `HOST=${this.hostNetwork ? this.options.replicaHost : '0.0.0.0'}`
      ],
      Labels: {
        [LABELS.instance]: this.options.instance,
        [LABELS.hostname]: handle.hostname,
        [LABELS.id]: String(handle.id),
        [LABELS.url]: handle.url
      },
      // the balancer replaces a dead replica itself; an engine restart would race it
      HostConfig: { NetworkMode: this.options.network, RestartPolicy: { Name: 'no' } }
    }
  }

  /**
   * Stops (SIGTERM, then the engine's kill after the stop timeout) and removes
   * the replica's container, after checking it carries this balancer's labels:
   * a container the balancer did not start is refused and left running.
   */
  async remove (hostname: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    const target = this.tracked.get(hostname)?.containerId ?? this.containerName(hostname)
    let info: Docker.ContainerInspectInfo
    try {
      info = await this.docker.getContainer(target).inspect()
    } catch (err) {
      if (statusOf(err) === 404) {
        this.tracked.delete(hostname)
        return
      }
      throw engineError(err, `inspect container '${this.containerName(hostname)}'`)
    }
    const labels = info.Config.Labels ?? {}
    if (labels[LABELS.instance] !== this.options.instance || labels[LABELS.hostname] !== hostname) {
      throw new LbError(409, `container '${info.Name.replace(/^\//, '')}' was not started by this balancer (instance '${this.options.instance}'); it is left as it is`)
    }
    const container = this.docker.getContainer(info.Id)
    this.stopping.add(info.Id)
    try {
      // forced: a failed replica may be hung; removing it with force kills it at once
      if (info.State.Running && !force) await container.stop({ t: this.options.stopTimeoutS ?? 2 }).catch(ignoreStatus(304, 404))
      await container.remove({ force: true }).catch(ignoreStatus(404))
      if (this.tracked.get(hostname)?.containerId === info.Id) this.tracked.delete(hostname)
    } catch (err) {
      throw engineError(err, `remove container '${info.Name.replace(/^\//, '')}'`)
    } finally {
      this.stopping.delete(info.Id)
    }
  }

  /**
   * The running replicas labelled with this instance, to adopt. Own
   * containers that are not running (died while no balancer watched, or left
   * half-created by one that crashed) are removed, so they neither linger nor
   * block their names.
   */
  async list (): Promise<ReplicaHandle[]> {
    let containers: Docker.ContainerInfo[]
    try {
      containers = await this.docker.listContainers({ all: true, filters: { label: [this.ownLabel()] } })
    } catch (err) {
      throw engineError(err, 'list containers')
    }
    const handles: ReplicaHandle[] = []
    for (const container of containers) {
      const known = [...this.tracked.values()].some(t => t.containerId === container.Id)
      if (container.State !== 'running') {
        if (!known) await this.docker.getContainer(container.Id).remove({ force: true }).catch(ignoreStatus(404, 409))
        continue
      }
      const handle = handleFrom(container.Labels)
      if (handle === undefined) continue
      if (!known) {
        const port = Number(new URL(handle.url).port)
        this.tracked.set(handle.hostname, { containerId: container.Id, handle, port, started: ++this.starts })
      }
      handles.push(handle)
    }
    return handles
  }

  onExit (listener: (exit: ReplicaExit) => void): void {
    this.listeners.push(listener)
  }

  /** Stops watching; the containers keep running for the next balancer unless `keepReplicas` is false. */
  async close ({ keepReplicas }: { keepReplicas: boolean }): Promise<void> {
    this.closed = true
    this.events.close()
    if (!keepReplicas) await Promise.all([...this.tracked.keys()].map(async hostname => { await this.remove(hostname) }))
  }

  /** The engine's container id of a replica, for tests and chaos tooling that kill it from outside. */
  containerId (hostname: string): string | undefined {
    return this.tracked.get(hostname)?.containerId
  }

  private ownLabel (): string {
    return `${LABELS.instance}=${this.options.instance}`
  }

  private createError (err: unknown, name: string): LbError {
    if (isUnreachable(err)) return engineError(err, `create container '${name}'`)
    switch (statusOf(err)) {
      case 409: return new LbError(409, `a container named '${name}' already exists`, { cause: err })
      case 404: return new LbError(404, this.options.replicaImage === undefined
        ? `${engineReason(err)} (LB_IMAGE=${this.options.image}, LB_NETWORK=${this.options.network}); build the image with make build`
        : `${engineReason(err)} (LB_REPLICA_IMAGE=${this.options.replicaImage}, LB_NETWORK=${this.options.network})`, { cause: err })
      default: return engineError(err, `create container '${name}'`)
    }
  }

  /** A free port on the replica host that no replica of this driver holds or is about to take. */
  private async reservePort (): Promise<number> {
    const taken = new Set([...this.pendingPorts, ...[...this.tracked.values()].map(t => t.port)])
    for (;;) {
      const port = await freePort(this.options.replicaHost)
      if (taken.has(port)) continue
      this.pendingPorts.add(port)
      return port
    }
  }

  private onEvent (event: ContainerEvent): void {
    const hostname = event.Actor.Attributes[LABELS.hostname]
    if (hostname === undefined) return
    const tracked = this.tracked.get(hostname)
    if (tracked?.containerId !== event.Actor.ID || this.stopping.has(tracked.containerId)) return
    const reason = event.Action === 'oom'
      ? 'container ran out of memory'
      : `container died (exit code ${event.Actor.Attributes.exitCode ?? 'unknown'})`
    this.exited(hostname, reason)
  }

  /** After a gap in the event stream: any started replica no longer running died unseen. */
  private async resync (): Promise<void> {
    const startedBefore = this.starts
    const running = await this.docker.listContainers({ filters: { label: [this.ownLabel()], status: ['running'] } })
    const alive = new Set(running.map(c => c.Id))
    for (const [hostname, tracked] of this.tracked) {
      if (tracked.started === 0 || tracked.started > startedBefore) continue
      if (!alive.has(tracked.containerId) && !this.stopping.has(tracked.containerId)) this.exited(hostname, 'container stopped while the event stream was down')
    }
  }

  private exited (hostname: string, reason: string): void {
    this.tracked.delete(hostname)
    for (const listener of this.listeners) listener({ hostname, reason })
  }
}

/** A replica's identity from its container labels; undefined when they are not a replica's. */
function handleFrom (labels: Record<string, string>): ReplicaHandle | undefined {
  const hostname = labels[LABELS.hostname]
  const id = Number(labels[LABELS.id])
  const url = labels[LABELS.url]
  if (hostname === undefined || url === undefined || !Number.isInteger(id) || id < 0) return undefined
  return { id, hostname, url }
}

/** A catch handler that lets the given engine answers through: 304 already stopped, 404 already gone, 409 removal already under way. */
function ignoreStatus (...statuses: number[]): (err: unknown) => void {
  return err => {
    if (!statuses.includes(statusOf(err) ?? 0)) throw err
  }
}
