import { LbError } from '../../errors.js'
import type { Upstream } from '../upstreams.js'
import type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from './driver.js'

/**
 * Servers ringlb balances but does not run (LB_DRIVER=static, LB_UPSTREAMS):
 * it only knows their names and origins. Creating one records the origin the
 * admin gave; removing one forgets it; nothing is ever started or stopped, and
 * no death is ever reported, since the only sign of one is a failed heartbeat.
 */
export class StaticDriver implements Driver {
  readonly name = 'static'
  readonly external = true
  private readonly servers = new Map<string, ReplicaHandle>()

  constructor (upstreams: Upstream[]) {
    upstreams.forEach((upstream, id) => this.servers.set(upstream.hostname, { id, hostname: upstream.hostname, url: upstream.url }))
  }

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    if (spec.url === undefined) throw new LbError(400, `a static server needs its url (${spec.hostname})`)
    if (this.servers.has(spec.hostname)) throw new LbError(409, `a server named '${spec.hostname}' already exists`)
    const handle: ReplicaHandle = { id: spec.id, hostname: spec.hostname, url: spec.url }
    this.servers.set(spec.hostname, handle)
    return handle
  }

  async remove (hostname: string): Promise<void> {
    this.servers.delete(hostname)
  }

  async list (): Promise<ReplicaHandle[]> {
    return [...this.servers.values()]
  }

  onExit (_listener: (exit: ReplicaExit) => void): void {}

  async close (): Promise<void> {}
}
