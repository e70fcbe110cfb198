import { setTimeout as sleep } from 'node:timers/promises'
import Docker from 'dockerode'
import { LABELS } from './docker.js'
import { ContainerEvents, type ContainerEvent } from './docker-events.js'
import { engineError, statusOf } from './docker-errors.js'
import { type Driver, type EngineWatch, IdentityTaken, type ReplicaExit, type ReplicaHandle, type ReplicaSpec } from './driver.js'
import { LbError } from '../../errors.js'
import { DRAINING_LABEL, type Snapshot, type SwarmService, type SwarmTask, changes, snapshotOf } from './swarm-tasks.js'

export interface SwarmDriverOptions {
  /** a manager node's engine socket */
  socketPath: string
  /** the replicas' image, by tag or ID: services get its ID, so that no node ever asks a registry */
  image: string
  /** the attachable overlay network replicas join; the balancer must be on it to reach them */
  network: string
  /** the balancer instance: every balancer with the same one follows the same services */
  instance: string
  /** put before each hostname to make the service name */
  namePrefix: string
  /** LB_REPLICA_IMAGE: an image of the user's to run instead, with its own entrypoint (given by ID too) */
  replicaImage?: string
  /** LB_REPLICA_PORT (5000): the port replicas listen on inside their tasks */
  replicaPort?: number
  /** LB_REPLICA_ENV: extra environment for every replica */
  replicaEnv?: Record<string, string>
  /** Swarm placement constraints, e.g. node.role==worker */
  constraints?: string[]
  /** how long Swarm has to run a new replica's task */
  readyTimeoutMs: number
  /**
   * how long a task told to stop keeps serving while failing its heartbeat, so
   * that every balancer takes it out first (2000): above the heartbeat period
   * times the misses that take a replica out
   */
  lameDuckMs?: number
  /** how often the services and tasks are listed: Swarm has no task events */
  pollMs?: number
  /** how long one engine call may take */
  requestTimeoutMs?: number
}

const NANOSECONDS_PER_MS = 1_000_000
/** the port replicas listen on inside their tasks when LB_REPLICA_PORT does not say, as in the original project */
const REPLICA_PORT = 5000

/**
 * The instance label on task containers: not the docker driver's
 * `ringlb.instance`, so that a docker-driver balancer (or `make down`) of the
 * same instance on this engine never takes a task container for its own.
 */
export const TASK_INSTANCE_LABEL = 'ringlb.swarm-instance'

/**
 * Replicas as Docker Swarm services of one task each, on an attachable
 * overlay network, reached at their task's overlay address (endpoint mode
 * dnsrr: these kernels have no IPVS for virtual IPs). Swarm places and
 * restarts tasks; this driver follows them and reports every change, so the
 * balancer only routes. Balancers of one instance share the services: each
 * follows them all (a listing every `pollMs`, plus the local engine's die and
 * oom events), and the engine arbitrates identities, since service and config
 * names are unique in a swarm.
 */
export class SwarmDriver implements Driver {
  readonly name = 'swarm'
  readonly restartsReplicas = true
  private readonly docker: Docker
  private readonly events: ContainerEvents
  private readonly exitListeners: Array<(exit: ReplicaExit) => void> = []
  private watcher: EngineWatch | undefined
  private snapshot: Snapshot = new Map()
  /** hostnames this balancer is removing: their end is no failure */
  private readonly stopping = new Set<string>()
  private imageId: Promise<string> | undefined
  private timer: NodeJS.Timeout | undefined
  private polling = false
  private closed = false

  constructor (private readonly options: SwarmDriverOptions) {
    this.docker = new Docker({ socketPath: options.socketPath, timeout: options.requestTimeoutMs ?? 60_000 })
    // task containers carry the replica's labels too: a die on this node is seen before any listing
    this.events = new ContainerEvents(new Docker({ socketPath: options.socketPath }), {
      labels: [`${TASK_INSTANCE_LABEL}=${this.options.instance}`],
      actions: ['die', 'oom'],
      onEvent: event => { this.onEvent(event) },
      onConnect: () => { void this.poll() }
    })
  }

  private get port (): number { return this.options.replicaPort ?? REPLICA_PORT }
  private get lameDuckMs (): number { return this.options.lameDuckMs ?? 2000 }

  serviceName (hostname: string): string {
    return `${this.options.namePrefix}${hostname}`
  }

  /** The config whose unique name reserves a numeric id for one balancer instance. */
  private idReservation (id: number): string {
    return `${this.options.namePrefix}${this.options.instance}.id.${id}`
  }

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    if (this.closed) throw new LbError(503, 'the Swarm driver is closed')
    const image = await this.resolveImage()
    const name = this.serviceName(spec.hostname)
    await this.reserveId(spec)
    let service: Docker.Service
    try {
      service = await this.docker.createService(this.serviceSpec(name, spec, image))
    } catch (err) {
      await this.releaseId(spec.id)
      if (statusOf(err) === 409) throw new IdentityTaken(spec, 'hostname', { cause: err })
      throw engineError(err, `create service '${name}'`)
    }
    try {
      return await this.runningTask(service.id, spec)
    } catch (err) {
      await this.docker.getService(service.id).remove().catch(() => {})
      await this.releaseId(spec.id)
      throw err
    }
  }

  private async reserveId (spec: ReplicaSpec): Promise<void> {
    try {
      await this.docker.createConfig({
        Name: this.idReservation(spec.id),
        Labels: { [LABELS.instance]: this.options.instance, [LABELS.hostname]: spec.hostname, [LABELS.id]: String(spec.id) },
        Data: Buffer.from(spec.hostname).toString('base64')
      })
    } catch (err) {
      if (statusOf(err) === 409) throw new IdentityTaken(spec, 'id', { cause: err })
      throw engineError(err, `reserve replica id ${spec.id}`)
    }
  }

  private async releaseId (id: number): Promise<void> {
    await this.docker.getConfig(this.idReservation(id)).remove().catch(() => {})
  }

  private serviceSpec (name: string, spec: ReplicaSpec, image: string): Docker.CreateServiceOptions {
    const ownReplica = this.options.replicaImage === undefined
    const labels = { [LABELS.instance]: this.options.instance, [LABELS.hostname]: spec.hostname, [LABELS.id]: String(spec.id) }
    return {
      Name: name,
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          ...(ownReplica ? { Command: ['node', 'dist/replica/server.js'] } : {}),
          Env: [
            ...Object.entries(this.options.replicaEnv ?? {}).map(([key, value]) => `${key}=${value}`),
            `SERVER_ID=${spec.id}`,
            `REPLICA_NAME=${spec.hostname}`,
            `PORT=${this.port}`,
            'HOST=0.0.0.0',
            `REPLICA_LAME_DUCK_MS=${this.lameDuckMs}`
          ],
          Labels: { [TASK_INSTANCE_LABEL]: this.options.instance, [LABELS.hostname]: spec.hostname, [LABELS.id]: String(spec.id) },
          // its lame-duck time, then 2 s to finish: a replica still up after that is stuck
          StopGracePeriod: (this.lameDuckMs + 2000) * NANOSECONDS_PER_MS
        },
        // a dead task is replaced at once (0.8 s measured, against 5.7 s with Swarm's default 5 s delay)
        RestartPolicy: { Condition: 'any', Delay: 0 },
        Placement: { Constraints: this.options.constraints ?? [] },
        Networks: [{ Target: this.options.network }]
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: 'dnsrr' }
    }
  }

  /** Waits until Swarm runs the service's task and it has its overlay address; 503 when not within the ready timeout. */
  private async runningTask (serviceId: string, spec: ReplicaSpec): Promise<ReplicaHandle> {
    const deadline = Date.now() + this.options.readyTimeoutMs
    let last = 'no task yet'
    for (;;) {
      let tasks: SwarmTask[]
      try {
        tasks = await this.docker.listTasks({ filters: { service: [serviceId] } }) as SwarmTask[]
      } catch (err) {
        throw engineError(err, `list the tasks of service '${this.serviceName(spec.hostname)}'`)
      }
      const state = snapshotOf([{ ID: serviceId, Spec: { Labels: { [LABELS.hostname]: spec.hostname, [LABELS.id]: String(spec.id) } } }], tasks, { network: this.options.network, port: this.port }).get(spec.hostname)
      if (state?.task !== undefined) return { ...spec, url: state.task.url }
      last = state?.lastState ?? last
      if (Date.now() >= deadline) {
        throw new LbError(503, `Swarm did not run a task of service '${this.serviceName(spec.hostname)}' within ${this.options.readyTimeoutMs} ms (${last}); the service is removed`)
      }
      await sleep(100)
    }
  }

  /** The replicas' image's ID, resolved once: a tag would make every node's agent try a registry. */
  private async resolveImage (): Promise<string> {
    const image = this.options.replicaImage ?? this.options.image
    if (image.startsWith('sha256:')) return image
    this.imageId ??= this.docker.getImage(image).inspect().then(info => info.Id)
    try {
      return await this.imageId
    } catch (err) {
      this.imageId = undefined
      const setting = this.options.replicaImage === undefined ? 'LB_IMAGE' : 'LB_REPLICA_IMAGE'
      if (statusOf(err) === 404) throw new LbError(404, `no image ${image} (${setting}) on this engine: Swarm is given images by ID, so it must be here (make build, or docker pull it first)`, { cause: err })
      throw engineError(err, `inspect image ${image}`)
    }
  }

  /** Labels the service as draining, so that every other balancer takes it out of its ring before it stops. */
  async markDraining (hostname: string): Promise<void> {
    const service = this.docker.getService(this.serviceName(hostname))
    try {
      const info = await service.inspect() as { Version: { Index: number }, Spec: Docker.ServiceSpec }
      await service.update({ ...info.Spec, version: info.Version.Index, Labels: { ...info.Spec.Labels, [DRAINING_LABEL]: 'true' } })
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError(err, `label service '${this.serviceName(hostname)}' as draining`)
    }
  }

  /** Removes the replica's service (its task stops) and frees its id; a service of another instance is refused. */
  async remove (hostname: string): Promise<void> {
    const name = this.serviceName(hostname)
    let info: SwarmService
    try {
      info = await this.docker.getService(name).inspect() as SwarmService
    } catch (err) {
      if (statusOf(err) === 404) return
      throw engineError(err, `inspect service '${name}'`)
    }
    const labels = info.Spec?.Labels ?? {}
    if (labels[LABELS.instance] !== this.options.instance || labels[LABELS.hostname] !== hostname) {
      throw new LbError(409, `service '${name}' was not started by a balancer of instance '${this.options.instance}'; it is left as it is`)
    }
    this.stopping.add(hostname)
    try {
      await this.docker.getService(info.ID).remove().catch((err: unknown) => { if (statusOf(err) !== 404) throw err })
      await this.releaseId(Number(labels[LABELS.id]))
    } catch (err) {
      throw engineError(err, `remove service '${name}'`)
    } finally {
      this.stopping.delete(hostname)
    }
  }

  /** The instance's replicas whose task runs now; the first listing of the watch. */
  async list (): Promise<ReplicaHandle[]> {
    this.snapshot = await this.listing()
    return [...this.snapshot.values()].flatMap(s => s.task === undefined || s.draining ? [] : [{ id: s.id, hostname: s.hostname, url: s.task.url }])
  }

  onExit (listener: (exit: ReplicaExit) => void): void {
    this.exitListeners.push(listener)
  }

  watch (listener: EngineWatch): void {
    this.watcher = listener
    this.timer = setInterval(() => { void this.poll() }, this.options.pollMs ?? 500)
    this.timer.unref()
  }

  /**
   * Stops following. The services always stay: they are shared by every
   * balancer of the instance, so one balancer stopping must not take them from
   * the others (`make swarm-down` removes them by label).
   */
  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    this.events.close()
  }

  /** The node and task of a replica now, for tests and chaos tooling. */
  taskOf (hostname: string): { serviceId: string, taskId?: string } | undefined {
    const state = this.snapshot.get(hostname)
    return state === undefined ? undefined : { serviceId: state.serviceId, taskId: state.task?.id }
  }

  private ownLabel (): string {
    return `${LABELS.instance}=${this.options.instance}`
  }

  private async listing (): Promise<Snapshot> {
    try {
      const [services, tasks] = await Promise.all([
        this.docker.listServices({ filters: { label: [this.ownLabel()] } }) as Promise<SwarmService[]>,
        this.docker.listTasks({ filters: { 'desired-state': ['running'] } }) as Promise<SwarmTask[]>
      ])
      return snapshotOf(services, tasks, { network: this.options.network, port: this.port })
    } catch (err) {
      throw engineError(err, 'list the swarm\'s services and tasks')
    }
  }

  /** One listing, diffed against the last: what changed is reported. */
  private async poll (): Promise<void> {
    if (this.polling || this.closed || this.watcher === undefined) return
    this.polling = true
    try {
      const next = await this.listing()
      const before = this.snapshot
      this.snapshot = next
      for (const change of changes(before, next)) {
        if (change.kind === 'running') this.watcher.running(change.handle)
        else if (this.stopping.has(change.hostname)) continue
        else if (change.kind === 'removed') this.watcher.removed(change.hostname, change.reason)
        else this.exited(change.hostname, change.reason)
      }
    } catch {
      // the engine is away: the next poll tries again, and the heartbeat still judges the replicas
    } finally {
      this.polling = false
    }
  }

  /** A task container of the instance died on this node: out at once, if it is the replica's current task. */
  private onEvent (event: ContainerEvent): void {
    const hostname = event.Actor.Attributes[LABELS.hostname]
    const taskId = event.Actor.Attributes['com.docker.swarm.task.id']
    if (hostname === undefined || this.stopping.has(hostname)) return
    const state = this.snapshot.get(hostname)
    if (state?.task === undefined || state.task.id !== taskId) return
    // forgotten, so that the next listing reports the task that replaces it even at the same address
    state.task = undefined
    this.exited(hostname, event.Action === 'oom' ? 'its task ran out of memory' : `its task died (exit code ${event.Actor.Attributes.exitCode ?? 'unknown'})`)
  }

  private exited (hostname: string, reason: string): void {
    for (const listener of this.exitListeners) listener({ hostname, reason })
  }
}
