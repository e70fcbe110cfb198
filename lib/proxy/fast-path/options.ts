import type { Socket } from 'node:net'
import type { Lifecycle, ProxyTarget } from '../lifecycle.js'
import type { UpstreamPool } from './upstream-pool.js'

export interface FastPathOptions<R extends ProxyTarget> {
  /** what becomes of each request: its replica, retries, error answers, counts */
  lifecycle: Lifecycle<R>
  /** a path the balancer answers itself */
  isOwn: (path: string) => boolean
  /** nginx's proxy_read_timeout and send_timeout, as on the undici path; 0 waits as long as it takes */
  timeoutMs: number
  /** how long an idle client connection is kept open */
  keepAliveTimeoutMs: number
  /** how long a request head may take to arrive whole once it has begun */
  headersTimeoutMs: number
  closing: () => boolean
  /** gives a connection, with what it sent that was not read yet put back, to the HTTP server */
  handOff: (socket: Socket) => void
}

/** What a client connection and its exchanges need of the fast path that owns them. */
export interface FastPathContext<R extends ProxyTarget> {
  readonly options: FastPathOptions<R>
  /** the kept connections to a replica */
  pool: (replica: R) => UpstreamPool
  /** a client connection handed to the HTTP server is no longer the fast path's */
  forget: (socket: Socket) => void
}
