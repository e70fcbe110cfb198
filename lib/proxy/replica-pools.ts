import { Dispatcher, Pool } from 'undici'
import { replicaFailed } from './lifecycle.js'

/**
 * An undici dispatcher with one connection pool per replica origin, owned here
 * so that a replica's pool is closed when the replica leaves (an undici Agent
 * would keep an entry for every origin it ever saw).
 */
export class ReplicaPools extends Dispatcher {
  private readonly pools = new Map<string, Pool>()
  private closed = false

  constructor (private readonly poolOptions: Pool.Options = {}) {
    super()
  }

  /** Open connections to each origin that has a pool now, for the metrics. */
  connections (): Map<string, number> {
    return new Map([...this.pools].map(([origin, pool]) => [origin, pool.stats.connected]))
  }

  dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = String(options.origin)
    let pool = this.pools.get(origin)
    if (pool === undefined) {
      pool = new Pool(origin, this.poolOptions)
      if (this.closed) {
        // a late request (a retry while the balancer closes) is still sent, on a pool that closes after it
        const sent = pool.dispatch(options, handler)
        void pool.close()
        return sent
      }
      this.pools.set(origin, pool)
    }
    return pool.dispatch(options, handler)
  }

  /** Closes an origin's pool; requests already sent on it finish first. */
  async release (origin: string): Promise<void> {
    const pool = this.pools.get(origin)
    if (pool === undefined) return
    this.pools.delete(origin)
    await pool.close()
  }

  /**
   * Destroys an origin's pool at once: its replica failed, and requests still
   * waiting on it fail now, so an idempotent one is retried on the next replica
   * instead of waiting out the proxy timeout (Envoy's
   * close_connections_on_host_health_failure).
   */
  async abandon (origin: string): Promise<void> {
    const pool = this.pools.get(origin)
    if (pool === undefined) return
    this.pools.delete(origin)
    await pool.destroy(replicaFailed())
  }

  async close (): Promise<void> {
    this.closed = true
    const pools = [...this.pools.values()]
    this.pools.clear()
    await Promise.all(pools.map(async pool => { await pool.close() }))
  }
}
