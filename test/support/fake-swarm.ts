import type { FastifyInstance } from 'fastify'
import { type Driver, type EngineWatch, IdentityTaken, type ReplicaExit, type ReplicaHandle, type ReplicaSpec } from '../../lib/replicas/drivers/driver.js'
import { buildReplica } from '../../replica/app.js'

interface Service {
  spec: ReplicaSpec
  app?: FastifyInstance
  url?: string
}

/**
 * An engine that restarts replicas itself and is shared by several
 * balancers, as a swarm is: unique names and ids, restarts at a new address,
 * every driver told of every change. Replicas are real servers on loopback
 * ports; what is fake is only the engine's bookkeeping, for the manager's
 * logic around it (the real engine's is test/swarm.test.ts).
 */
export class FakeSwarm {
  readonly services = new Map<string, Service>()
  readonly drivers: FakeSwarmDriver[] = []
  creates = 0
  /** replicas whose heartbeat answers 503, as one in its lame-duck time does */
  readonly leaving = new Set<string>()

  async run (service: Service): Promise<string> {
    const app = buildReplica({ serverId: String(service.spec.id), forceCloseConnections: true })
    app.addHook('onRequest', async (request, reply) => {
      if (request.url === '/heartbeat' && this.leaving.has(service.spec.hostname)) await reply.code(503).send('leaving')
    })
    service.app = app
    service.url = await app.listen({ port: 0, host: '127.0.0.1' })
    return service.url
  }

  /** The task dies; every driver sees the exit, then the engine runs a new task at another port after `restartMs`. */
  async kill (hostname: string, restartMs = 50): Promise<void> {
    const service = this.services.get(hostname)
    if (service?.app === undefined) throw new Error(`no running ${hostname}`)
    await service.app.close()
    service.app = undefined
    service.url = undefined
    for (const driver of this.drivers) driver.exited({ hostname, reason: 'killed by the test' })
    setTimeout(() => {
      void this.run(service).then(() => { for (const driver of this.drivers) driver.watcher?.running({ ...service.spec, url: service.url as string }) })
    }, restartMs)
  }

  async close (): Promise<void> {
    await Promise.all([...this.services.values()].map(async s => await s.app?.close()))
  }
}

export class FakeSwarmDriver implements Driver {
  readonly name = 'fake-swarm'
  readonly restartsReplicas = true
  watcher: EngineWatch | undefined
  private readonly listeners: Array<(exit: ReplicaExit) => void> = []

  constructor (private readonly engine: FakeSwarm) {
    engine.drivers.push(this)
  }

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    const services = [...this.engine.services.values()]
    if (this.engine.services.has(spec.hostname)) throw new IdentityTaken(spec, 'hostname')
    if (services.some(s => s.spec.id === spec.id)) throw new IdentityTaken(spec, 'id')
    const service: Service = { spec }
    this.engine.services.set(spec.hostname, service)
    this.engine.creates++
    const url = await this.engine.run(service)
    // the other balancers see it at their next listing
    for (const driver of this.engine.drivers) if (driver !== this) driver.watcher?.running({ ...spec, url })
    return { ...spec, url }
  }

  async markDraining (hostname: string): Promise<void> {
    for (const driver of this.engine.drivers) if (driver !== this) driver.watcher?.removed(hostname, 'another balancer is draining it')
  }

  async remove (hostname: string): Promise<void> {
    const service = this.engine.services.get(hostname)
    if (service === undefined) return
    this.engine.services.delete(hostname)
    await service.app?.close()
  }

  async list (): Promise<ReplicaHandle[]> {
    return [...this.engine.services.values()].flatMap(s => s.url === undefined ? [] : [{ ...s.spec, url: s.url }])
  }

  onExit (listener: (exit: ReplicaExit) => void): void { this.listeners.push(listener) }
  watch (listener: EngineWatch): void { this.watcher = listener }
  exited (exit: ReplicaExit): void { for (const listener of this.listeners) listener(exit) }
  async close (): Promise<void> { this.watcher = undefined }
}
