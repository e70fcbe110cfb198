import type { Socket } from 'node:net'
import { type ProxyTarget, replicaFailed } from '../lifecycle.js'
import { ClientConnection } from './client-connection.js'
import type { FastPathContext, FastPathOptions } from './options.js'
import { UpstreamPool } from './upstream-pool.js'

/*
 * The proxy's fast path: GET and HEAD requests forwarded on the sockets
 * themselves, the request head checked and passed on line by line, the answer
 * passed back as the bytes came, followed only far enough to know where it
 * ends. Node's HTTP server and an HTTP client in between cost a Node proxy
 * about 58 µs of CPU per request here, where nginx spends 22; this costs about
 * 37 (npm run bench:proxy). Any request it is not sure of (a body, an upgrade,
 * the balancer's own routes, anything unusual) goes, with its connection, to
 * the HTTP server and the undici path. What becomes of a request (its replica,
 * a retry, an error answer, the counts) is the lifecycle's to say
 * (../lifecycle.ts), as on the undici path.
 *
 * The parts, by role: client-connection.ts reads a client's requests and hands
 * over what it will not take; exchange.ts carries one request to a replica and
 * its answer back; upstream-pool.ts keeps the connections to each replica;
 * http1.ts is the HTTP/1.1 framing.
 */

export type { FastPathOptions } from './options.js'

export class FastPath<R extends ProxyTarget> implements FastPathContext<R> {
  private readonly clients = new Map<Socket, ClientConnection<R>>()
  private readonly pools = new Map<string, UpstreamPool>()
  private closed = false

  constructor (readonly options: FastPathOptions<R>) {}

  /** Takes a new client connection. */
  accept (socket: Socket): void {
    this.clients.set(socket, new ClientConnection(this, socket))
    socket.once('close', () => { this.forget(socket) })
  }

  /** Closes the connections to a replica that left: idle ones now, busy ones when their answer is done. */
  release (origin: string): void {
    this.pools.get(origin)?.close()
    this.pools.delete(origin)
  }

  /** Cuts the connections to a replica that failed: requests waiting on it go on to the next replica now. */
  abandon (origin: string): void {
    this.pools.get(origin)?.abandon(replicaFailed())
    this.pools.delete(origin)
  }

  /** Open connections to each replica origin, for the metrics. */
  connections (): Map<string, number> {
    return new Map([...this.pools].map(([origin, pool]) => [origin, pool.open]))
  }

  /** The balancer is closing: idle connections close now, the others after their answer. */
  close (): void {
    this.closed = true
    for (const client of this.clients.values()) client.closeIfIdle()
    for (const pool of this.pools.values()) pool.close()
    this.pools.clear()
  }

  forget (socket: Socket): void {
    this.clients.delete(socket)
  }

  pool (replica: R): UpstreamPool {
    let pool = this.pools.get(replica.url)
    if (pool === undefined) {
      pool = new UpstreamPool(replica.url)
      // a retry while the balancer closes: its connection is not kept after it
      if (this.closed) pool.close()
      else this.pools.set(replica.url, pool)
    }
    return pool
  }
}
