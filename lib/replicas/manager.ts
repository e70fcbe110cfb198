import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import fastq from 'fastq'
import { type Driver, IdentityTaken, type ReplicaHandle } from './drivers/driver.js'
import { LbError, badRequest, conflict, notFound, unavailable } from '../errors.js'
import { EngineFollower } from './engine-follower.js'
import { type HeartbeatStatus, heartbeatStatus } from './heartbeat.js'
import { InFlight } from '../proxy/in-flight.js'
import { checkHostnames, replicaSpecs } from './names.js'
import { newUpstreamOrigins } from './upstreams.js'
import type { Ring } from '../rings/index.js'
import { type Replica, type ReplicaManagerEvents, type ReplicaManagerOptions, type ReplicaState, crashesAfterFailure, failureList, respawnDelayMs } from './replica.js'

/** tries of an /add whose identities other balancers keep taking first */
const IDENTITY_ATTEMPTS = 5

/**
 * Owns the replica set: names and numeric ids, the driver that runs them, the
 * heartbeat, respawning, and the ring, kept in step with the healthy replicas.
 * Every change to the set (add, remove, respawn) runs one at a time, so the
 * ring and the set never disagree. With an external driver (static servers)
 * nothing is started or replaced: a failed server stays known, out of the
 * ring, and is probed until it answers again.
 */
export class ReplicaManager extends EventEmitter<ReplicaManagerEvents> {
  readonly load = new InFlight()
  private readonly replicas = new Map<string, Replica>()
  /** replicas restarted by their engine (Swarm), followed back into the ring */
  private readonly follower: EngineFollower<Replica>
  private readonly queue = fastq.promise(async (task: () => Promise<unknown>) => await task(), 1)
  private timer: NodeJS.Timeout | undefined
  private probing = false
  private closed = false

  constructor (private readonly options: ReplicaManagerOptions) {
    super()
    this.follower = new EngineFollower({
      closed: () => this.closed,
      get: hostname => this.replicas.get(hostname),
      track: handle => this.track(handle),
      join: replica => { this.join(replica) },
      leave: (replica, reason, state) => { this.leave(replica, reason, state) },
      forget: hostname => { this.replicas.delete(hostname) },
      respawned: replica => { this.emit('respawn', replica) }
    }, { alive: async replica => await this.alive(replica, options.heartbeatTimeoutMs), log: options.log })
    options.driver.onExit(({ hostname, reason }) => {
      const replica = this.replicas.get(hostname)
      if (replica !== undefined) this.fail(replica, reason)
    })
  }

  get ring (): Ring<ReplicaHandle> { return this.options.ring }
  get driver (): Driver { return this.options.driver }
  private get external (): boolean { return this.options.driver.external === true }

  /** Every replica the balancer runs, whatever its state, by numeric id. */
  all (): Replica[] {
    return [...this.replicas.values()].sort((a, b) => a.id - b.id)
  }

  /** The healthy replicas, in the ring. */
  healthy (): Replica[] {
    return this.all().filter(replica => this.options.ring.has(replica.hostname))
  }

  /** Adopts the driver's running replicas, tops up to the target, starts the heartbeat. */
  async start (): Promise<void> {
    await this.serial(async () => {
      const adopted = (await this.options.driver.list()).sort((a, b) => a.id - b.id)
      for (const handle of adopted) {
        const replica = this.track(handle)
        if (await this.alive(replica, this.external ? this.options.heartbeatTimeoutMs : this.options.readyTimeoutMs)) {
          this.join(replica)
          this.options.log.info({ replica: replica.hostname, id: replica.id }, 'adopted running replica')
        } else if (this.external) {
          replica.state = 'failed'
          this.options.log.warn({ replica: replica.hostname, url: replica.url }, 'server does not answer its health check; out of the ring until it does')
        } else {
          this.replicas.delete(replica.hostname)
          await this.options.driver.remove(replica.hostname)
          this.options.log.warn({ replica: replica.hostname }, 'removed an adopted replica that failed its heartbeat')
        }
      }
      const missing = this.options.target - this.replicas.size
      if (missing > 0 && !this.external) await this.create(missing, [], { topUp: true })
    })
    this.options.driver.watch?.({
      running: handle => { this.follower.running(handle) },
      removed: (hostname, reason) => { this.follower.removed(hostname, reason) }
    })
    this.timer = setInterval(() => { void this.probe() }, this.options.heartbeatMs)
    this.timer.unref()
  }

  /**
   * Starts `n` replicas (named ones first) and answers when all are in the ring. A failure starts none.
   * An external driver's servers are not started: `urls` gives their origins, one per server, and each must answer its health check.
   */
  async add (n: number, hostnames: string[] = [], urls?: unknown): Promise<Replica[]> {
    if (hostnames.length > n) throw badRequest('Length of hostname list is more than newly added instances')
    checkHostnames(hostnames)
    if (!this.external && urls !== undefined) throw badRequest(`urls is only read with LB_DRIVER=static: this balancer runs its replicas itself (LB_DRIVER=${this.options.driver.name})`)
    return await this.serial(async () => {
      const origins = this.external ? newUpstreamOrigins(urls, n, new Map(this.all().map(r => [r.url, r.hostname]))) : undefined
      for (const name of hostnames) {
        if (this.replicas.has(name)) throw conflict(`a replica named '${name}' already exists`)
      }
      if (this.replicas.size + n > this.options.maxReplicas) {
        throw badRequest(`adding ${n} replicas to ${this.replicas.size} would exceed LB_MAX_REPLICAS (${this.options.maxReplicas})`)
      }
      const added = await this.create(n, hostnames, { urls: origins })
      this.options.log.info({ replicas: added.map(r => r.hostname), ring: this.options.ring.size }, 'replicas added')
      return added
    })
  }

  /**
   * Removes `n` replicas: the named ones, then as many more as needed, highest
   * numeric id first (the newest-first order of a scale-down). Each leaves the
   * ring, drains its in-flight requests, then is stopped.
   */
  async remove (n: number, hostnames: string[] = []): Promise<Replica[]> {
    if (hostnames.length > n) throw badRequest('Length of hostname list is more than removable instances')
    checkHostnames(hostnames)
    return await this.serial(async () => {
      for (const name of hostnames) {
        if (!this.replicas.has(name)) throw notFound(`'${name}' is not a replica of this balancer`)
      }
      if (n > this.replicas.size) throw badRequest(`cannot remove ${n} replicas: this balancer has ${this.replicas.size}`)
      const named = hostnames.map(name => this.replicas.get(name) as Replica)
      const others = this.all().filter(r => !hostnames.includes(r.hostname)).reverse().slice(0, n - named.length)
      const victims = [...named, ...others]
      for (const replica of victims) this.leave(replica, 'removed by the admin API', 'draining')
      await Promise.all(victims.map(async replica => { await this.options.driver.markDraining?.(replica.hostname).catch(() => {}) }))
      await Promise.all(victims.map(async replica => { await this.drain(replica) }))
      const results = await Promise.allSettled(victims.map(async replica => { await this.options.driver.remove(replica.hostname) }))
      const failures: string[] = []
      results.forEach((result, i) => {
        const replica = victims[i]
        if (result.status === 'fulfilled') {
          this.replicas.delete(replica.hostname)
        } else {
          // still running: it goes back into the ring rather than linger outside it
          this.join(replica)
          failures.push(`${replica.hostname}: ${(result.reason as Error).message}`)
        }
      })
      if (failures.length > 0) throw new LbError(502, `could not remove ${failures.join('; ')}`)
      this.options.log.info({ replicas: victims.map(r => r.hostname), ring: this.options.ring.size }, 'replicas removed')
      return victims
    })
  }

  /** A proxied request to this replica failed: probe it now instead of at the next tick. */
  reportFailure (hostname: string): void {
    const replica = this.replicas.get(hostname)
    if (replica?.state !== 'healthy') return
    void this.alive(replica, this.options.heartbeatTimeoutMs).then(ok => {
      if (!ok) this.fail(replica, 'failed a proxied request and its heartbeat')
    })
  }

  /** Stops the heartbeat and releases the driver (keeping its replicas when asked to). */
  async close ({ keepReplicas }: { keepReplicas: boolean }): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    // a change under way finishes first (pending respawns see `closed` and do nothing)
    await this.queue.drained()
    await this.options.driver.close({ keepReplicas })
  }

  private async serial<T> (task: () => Promise<T>): Promise<T> {
    return await (this.queue.push(task) as Promise<T>)
  }

  private async alive (replica: ReplicaHandle, timeoutMs: number): Promise<boolean> {
    return await this.health(replica, timeoutMs) === 'ok'
  }

  private async health (replica: ReplicaHandle, timeoutMs: number): Promise<HeartbeatStatus> {
    return await heartbeatStatus(replica.url, timeoutMs, this.options.healthPath)
  }

  private track (handle: ReplicaHandle): Replica {
    const replica: Replica = { ...handle, state: 'starting', misses: 0, restarts: 0, crashes: 0, healthySince: 0 }
    this.replicas.set(replica.hostname, replica)
    return replica
  }

  private join (replica: Replica): void {
    replica.state = 'healthy'
    replica.misses = 0
    replica.healthySince = Date.now()
    if (!this.options.ring.has(replica.hostname)) this.options.ring.add(replica)
    this.emit('join', replica)
  }

  private leave (replica: Replica, reason: string, state: ReplicaState): void {
    replica.state = state
    if (!this.options.ring.remove(replica.hostname)) return
    this.emit('leave', replica, reason)
    if (state === 'failed') this.emit('fail', replica)
  }

  /**
   * Creates replicas for the given names plus generated ones (an external
   * driver's at `urls`); all pass a heartbeat, or none is kept. When the
   * engine gives an identity this balancer chose itself to another balancer
   * first (services shared in a swarm), it chooses again past it. At start-up
   * (`topUp`), an identity another balancer took counts as started, by that
   * balancer, and the replicas this one did start are kept: balancers starting
   * together share the target instead of each reaching it.
   */
  private async create (n: number, hostnames: string[], { urls, topUp = false }: { urls?: string[], topUp?: boolean } = {}): Promise<Replica[]> {
    const takenIds = new Set<number>()
    const takenNames = new Set<string>()
    for (let attempt = 1; ; attempt++) {
      const specs = replicaSpecs(n, hostnames, [...this.replicas.values()].map(r => r.id).concat([...takenIds]), [...this.replicas.keys(), ...takenNames], urls)
      const started = await Promise.allSettled(specs.map(async spec => await this.startOne(spec)))
      const failed = started.flatMap((result, i) => result.status === 'rejected' ? [{ spec: specs[i], reason: result.reason as Error }] : [])
      // the driver left nothing of these: their identity is another balancer's replica
      const lost = new Set(failed.filter(f => f.reason instanceof IdentityTaken).map(f => f.spec))
      const replicas = started.flatMap(result => result.status === 'fulfilled' ? [result.value] : [])
      if (failed.length === 0 || (topUp && lost.size === failed.length)) {
        for (const replica of replicas) this.join(replica)
        return replicas
      }
      await Promise.allSettled(specs.filter(spec => !lost.has(spec)).map(async spec => {
        this.replicas.delete(spec.hostname)
        await this.options.driver.remove(spec.hostname)
      }))
      const retry = lost.size === failed.length && failed.every(f => !hostnames.includes(f.spec.hostname)) && attempt < IDENTITY_ATTEMPTS
      if (!retry) {
        const first = failed[0].reason
        const status = first instanceof LbError ? first.statusCode : 503
        throw new LbError(status, `could not start ${failureList(failed.map(f => ({ name: f.spec.hostname, reason: f.reason.message })))}`, { cause: first })
      }
      for (const spec of lost) {
        takenIds.add(spec.id)
        takenNames.add(spec.hostname)
      }
    }
  }

  /** Starts one replica and waits for its first heartbeat; not yet in the ring. */
  private async startOne (spec: { id: number, hostname: string, url?: string }, previous?: Replica): Promise<Replica> {
    const handle = await this.options.driver.create(spec)
    const replica = this.track(handle)
    if (previous !== undefined) {
      replica.restarts = previous.restarts
      replica.crashes = previous.crashes
    }
    if (this.external) {
      // a server someone else runs is up already, or it is the admin's mistake: no start-up to wait for
      if (await this.alive(replica, this.options.heartbeatTimeoutMs)) return replica
      throw unavailable(`${replica.url} did not answer GET ${this.options.healthPath ?? '/heartbeat'} with a 2xx or 3xx within ${this.options.heartbeatTimeoutMs} ms`)
    }
    const deadline = Date.now() + this.options.readyTimeoutMs
    while (!(await this.alive(replica, Math.min(this.options.heartbeatTimeoutMs, Math.max(1, deadline - Date.now()))))) {
      if (replica.state === 'failed') throw new Error('exited before passing its first heartbeat (its own output says why)')
      if (Date.now() >= deadline) throw new Error(`no heartbeat within ${this.options.readyTimeoutMs} ms (raise LB_READY_TIMEOUT_MS if replicas start slowly)`)
      await sleep(50)
    }
    return replica
  }

  private async drain (replica: Replica): Promise<void> {
    const deadline = Date.now() + this.options.drainMs
    const busy = (): boolean => this.load.get(replica.hostname) > 0 || this.options.busyElsewhere?.(replica.hostname) === true
    while (busy() && Date.now() < deadline) await sleep(20)
  }

  private async probe (): Promise<void> {
    if (this.probing) return
    this.probing = true
    try {
      await Promise.all([...this.healthy().map(async replica => {
        const status = await this.health(replica, this.options.heartbeatTimeoutMs)
        if (status === 'ok') {
          replica.misses = 0
          return
        }
        replica.misses++
        this.emit('miss', replica)
        if (status === 'leaving') this.fail(replica, 'its heartbeat says it is shutting down')
        else if (replica.misses >= this.options.heartbeatMisses) this.fail(replica, `missed ${replica.misses} heartbeats`)
      }), ...this.failedServers().map(async server => { await this.recover(server) })])
    } finally {
      this.probing = false
    }
  }

  /**
   * A replica died: out of the ring at once, then replaced under the same name
   * and id. Takes the replica itself, not its name: a heartbeat that times out
   * after its replica was replaced must not fail the replacement.
   */
  private fail (replica: Replica, reason: string): void {
    const hostname = replica.hostname
    if (this.replicas.get(hostname) !== replica || replica.state === 'failed' || replica.state === 'draining' || this.follower.recovering(replica)) return
    const wasHealthy = replica.state === 'healthy'
    this.leave(replica, reason, 'failed')
    this.options.log.warn({ replica: hostname, reason }, 'replica failed')
    // a replica still starting belongs to an add or a respawn, which reports it; a server ringlb does not run is only probed
    if (this.options.driver.restartsReplicas === true) this.follower.recover(replica)
    else if (wasHealthy && !this.external) this.respawn(replica)
  }

  /** An external driver's servers out of the ring after failing: the heartbeat keeps asking them. */
  private failedServers (): Replica[] {
    return this.external ? this.all().filter(r => r.state === 'failed') : []
  }

  /** A failed server that answers its health check again goes back into the ring, through the change queue like any other change. */
  private async recover (server: Replica): Promise<void> {
    if (!(await this.alive(server, this.options.heartbeatTimeoutMs))) return
    // not awaited: the heartbeat tick does not wait behind an /add or /rm
    void this.serial(async () => {
      if (this.closed || this.replicas.get(server.hostname) !== server || server.state !== 'failed') return
      this.join(server)
      this.options.log.info({ replica: server.hostname, url: server.url }, 'server answers its health check again; back in the ring')
    })
  }

  private respawn (replica: Replica): void {
    if (this.closed) return
    replica.crashes = crashesAfterFailure(replica, Date.now())
    const delay = respawnDelayMs(replica.crashes)
    setTimeout(() => {
      void this.serial(async () => {
        // removed by /rm meanwhile, or replaced already
        if (this.closed || this.replicas.get(replica.hostname) !== replica) return
        this.replicas.delete(replica.hostname)
        try {
          await this.options.driver.remove(replica.hostname, { force: true })
          const fresh = await this.startOne(replica, replica)
          fresh.restarts++
          this.join(fresh)
          this.emit('respawn', fresh)
          this.options.log.info({ replica: fresh.hostname, restarts: fresh.restarts }, 'replica replaced')
        } catch (err) {
          this.options.log.error({ replica: replica.hostname, err }, 'could not replace replica; will retry')
          await this.options.driver.remove(replica.hostname, { force: true }).catch(() => {})
          this.replicas.set(replica.hostname, replica)
          replica.healthySince = Date.now()
          this.respawn(replica)
        }
      })
    }, delay).unref()
  }
}
