import { type Socket, connect } from 'node:net'
import { performance } from 'node:perf_hooks'

/** an idle replica connection older than this is not reused: the replica may be closing it (undici's default too) */
const UPSTREAM_IDLE_MS = 4000
/** idle connections kept per replica, as nginx's `keepalive 128` */
const MAX_IDLE_UPSTREAMS = 128

/** Kept connections to one replica. */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = []
  /** every open connection, idle or busy */
  readonly all = new Set<UpstreamConnection>()
  private closed = false
  /** connections open now, idle or busy */
  open = 0
  readonly host: string
  readonly hostname: string
  readonly port: number

  constructor (origin: string) {
    const url = new URL(origin)
    this.host = url.host
    // an IPv6 literal is bracketed in a URL, not in connect()
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1')
    this.port = Number(url.port === '' ? 80 : url.port)
  }

  acquire (): UpstreamConnection {
    const now = performance.now()
    for (let upstream = this.idle.pop(); upstream !== undefined; upstream = this.idle.pop()) {
      if (now - upstream.idleSince < UPSTREAM_IDLE_MS && upstream.socket.readyState === 'open') return upstream
      upstream.socket.destroy()
    }
    return new UpstreamConnection(this)
  }

  put (upstream: UpstreamConnection): void {
    if (this.closed || this.idle.length >= MAX_IDLE_UPSTREAMS) {
      upstream.socket.destroy()
      return
    }
    upstream.idleSince = performance.now()
    this.idle.push(upstream)
  }

  remove (upstream: UpstreamConnection): void {
    const i = this.idle.indexOf(upstream)
    if (i !== -1) this.idle.splice(i, 1)
  }

  close (): void {
    this.closed = true
    for (const upstream of this.idle.splice(0)) upstream.socket.destroy()
  }

  /** The replica failed: every connection goes now, and the exchanges still waiting on one are told it was reset. */
  abandon (error: Error): void {
    this.close()
    for (const upstream of [...this.all]) upstream.socket.destroy(error)
  }
}

/** What a replica's connection reports to the exchange it serves. */
export interface UpstreamListener {
  upstreamData: (chunk: Buffer) => void
  upstreamTimeout: () => void
  upstreamClosed: (error: Error | undefined) => void
}

/** One connection to a replica, serving one exchange at a time. */
export class UpstreamConnection {
  readonly socket: Socket
  exchange: UpstreamListener | undefined
  idleSince = 0
  private error: Error | undefined

  constructor (readonly pool: UpstreamPool) {
    const socket = this.socket = connect(pool.port, pool.hostname)
    pool.open++
    pool.all.add(this)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      // bytes no request asked for: the connection is out of step
      if (this.exchange === undefined) socket.destroy()
      else this.exchange.upstreamData(chunk)
    })
    socket.on('end', () => { if (this.exchange === undefined) socket.destroy() })
    socket.on('error', (error) => { this.error = error })
    socket.on('timeout', () => { this.exchange?.upstreamTimeout() })
    socket.on('close', () => {
      pool.open--
      pool.all.delete(this)
      pool.remove(this)
      const exchange = this.exchange
      this.exchange = undefined
      exchange?.upstreamClosed(this.error)
    })
  }
}
