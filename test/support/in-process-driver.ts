import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from '../../lib/replicas/drivers/driver.js'
import { buildReplica } from '../../replica/app.js'

interface Running {
  handle: ReplicaHandle
  app: FastifyInstance
  /** requests this replica received, by path */
  hits: Map<string, number>
  /** when set, the replica accepts connections but answers nothing: a hung process */
  hung: boolean
}

export interface DriverEvent {
  type: 'create' | 'remove' | 'kill'
  hostname: string
  at: number
  /** remove: killed at once rather than stopped */
  force?: boolean
}

/**
 * A driver whose replicas are real Fastify servers on real loopback sockets,
 * in the test's own process, so a test can make one slow, hung, failing or
 * dead on cue. Besides the replica's routes, each answers
 * `GET /slow?ms=` after a delay and `GET /status/:code` with that status.
 */
export class InProcessDriver implements Driver {
  readonly name = 'in-process'
  readonly events: DriverEvent[] = []
  private readonly running = new Map<string, Running>()
  private readonly listeners: Array<(exit: ReplicaExit) => void> = []
  /** killed hung replicas whose open connections are left silent until the driver closes */
  private readonly vanished: FastifyInstance[] = []

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    this.events.push({ type: 'create', hostname: spec.hostname, at: Date.now() })
    const app = buildReplica({ serverId: String(spec.id), forceCloseConnections: true })
    const record: Running = { handle: { ...spec, url: '' }, app, hits: new Map(), hung: false }
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?', 1)[0]
      record.hits.set(path, (record.hits.get(path) ?? 0) + 1)
      if (record.hung) await new Promise(() => {})
    })
    app.get<{ Querystring: { ms?: string } }>('/slow', async (request) => {
      await sleep(Number(request.query.ms ?? 1000))
      return { message: `Hello from Server: ${spec.id}`, status: 'successful' }
    })
    app.get<{ Params: { code: string } }>('/status/:code', async (request, reply) => {
      return await reply.code(Number(request.params.code)).header('retry-after', '1').send({ message: `status ${request.params.code} from Server: ${spec.id}`, status: 'failure' })
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    record.handle = { ...spec, url }
    this.running.set(spec.hostname, record)
    return record.handle
  }

  async remove (hostname: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    const record = this.running.get(hostname)
    if (record === undefined) return
    this.events.push({ type: 'remove', hostname, at: Date.now(), force })
    this.running.delete(hostname)
    await record.app.close()
  }

  async list (): Promise<ReplicaHandle[]> {
    return [...this.running.values()].map(r => r.handle)
  }

  onExit (listener: (exit: ReplicaExit) => void): void {
    this.listeners.push(listener)
  }

  async close (): Promise<void> {
    await Promise.all([...this.running.keys()].map(async name => { await this.remove(name) }))
    for (const app of this.vanished.splice(0)) app.server.closeAllConnections()
  }

  /**
   * The replica dies. Its open connections are cut, as the kernel does for a
   * dead process, unless it was hung: then they stay silent, as with a
   * container whose address vanished. With `report`, the driver tells the
   * manager, as a child's exit or the engine's `die` event would.
   */
  async kill (hostname: string, { report }: { report: boolean }): Promise<void> {
    const record = this.running.get(hostname)
    if (record === undefined) throw new Error(`no replica ${hostname}`)
    this.events.push({ type: 'kill', hostname, at: Date.now() })
    this.running.delete(hostname)
    if (record.hung) {
      record.app.server.close()
      this.vanished.push(record.app)
    } else {
      await record.app.close()
    }
    if (report) for (const listener of this.listeners) listener({ hostname, reason: 'killed by the test' })
  }

  /** The replica stops answering anything, heartbeats included, without exiting. */
  hang (hostname: string): void {
    this.get(hostname).hung = true
  }

  /** Requests a replica received on a path. */
  hits (hostname: string, path: string): number {
    return this.get(hostname).hits.get(path) ?? 0
  }

  url (hostname: string): string {
    return this.get(hostname).handle.url
  }

  private get (hostname: string): Running {
    const record = this.running.get(hostname)
    if (record === undefined) throw new Error(`no replica ${hostname}`)
    return record
  }
}
