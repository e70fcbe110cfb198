import type { Duplex } from 'node:stream'
import { FrameBoundaries, closeFrame } from './websocket-frames.js'

/** How long a closing tunnel waits for a frame to end and for both ends to close before it cuts them. */
const CLOSE_TIMEOUT_MS = 2000

export interface TunnelOptions {
  /** the request's key, which the tunnel follows on the ring */
  key: number
  /** the replica the tunnel reached */
  replica: string
  /** the replica that owned the key on the ring when the tunnel opened (another one under bounded loads) */
  owner: string
  /** a WebSocket (closed with close frames), or another listed protocol (closed by closing its connections) */
  websocket: boolean
  /** bytes passed on, as they go */
  toReplica: (bytes: number) => void
  toClient: (bytes: number) => void
}

/** One direction of a tunnel: bytes from `from` to `to`, with `from` paused while `to` is full. */
class Relay {
  readonly frames: FrameBoundaries | undefined
  /** the close frame to put in once the frame under way has ended */
  private pendingClose: Buffer | undefined
  private shut = false

  /**
   * `endsFirst`: whether this side's connection is ended right after its close
   * frame. The server end of a WebSocket closes the TCP connection first
   * (RFC 6455 §7.1.1): the balancer does so towards the client, and towards
   * the replica waits for the replica to close it (or cuts it after a timeout).
   */
  constructor (private readonly from: Duplex, private readonly to: Duplex, websocket: boolean, private readonly endsFirst: boolean, count: (bytes: number) => void) {
    this.frames = websocket ? new FrameBoundaries() : undefined
    from.on('data', (chunk: Buffer) => {
      if (this.shut) return
      if (this.pendingClose !== undefined && this.frames !== undefined) {
        const end = this.frames.advance(chunk, 0, true)
        if (end > 0) this.pass(chunk.subarray(0, end), count)
        if (this.frames.atBoundary) this.closeNow(this.pendingClose)
        return
      }
      this.frames?.advance(chunk)
      this.pass(chunk, count)
    })
    // a half-close passes through: the other side may still answer
    from.once('end', () => { if (!this.shut) to.end() })
  }

  /** Ends this direction with `frame` between two frames (now, or when the frame under way ends), or at once without one. */
  close (frame: Buffer | undefined): void {
    if (this.shut || this.pendingClose !== undefined) return
    if (frame === undefined || this.frames === undefined || this.frames.atBoundary) {
      this.closeNow(frame)
      return
    }
    this.pendingClose = frame
  }

  private pass (chunk: Buffer, count: (bytes: number) => void): void {
    count(chunk.length)
    if (!this.to.write(chunk)) {
      this.from.pause()
      this.to.once('drain', () => this.from.resume())
    }
  }

  private closeNow (frame: Buffer | undefined): void {
    this.shut = true
    if (this.to.writable) {
      if (frame === undefined || this.endsFirst) this.to.end(frame)
      else this.to.write(frame)
    }
    // what comes after (the peer's own close frame) is read and dropped, so the peer's writes do not stall
    this.from.resume()
  }
}

/**
 * A client's connection joined to a replica's after the replica's 101: bytes
 * both ways as they come, each side paused while the other cannot take more,
 * until either side closes. The balancer closes it with `close()`: a
 * WebSocket gets a close frame each way, put between two frames (so neither
 * end reads a broken frame), then its connections are closed; another
 * protocol's connections are closed at once.
 */
export class Tunnel {
  readonly key: number
  readonly replica: string
  readonly owner: string
  /** when the key first mapped to another replica than `owner`, if it does now (Tunnels sets it) */
  movedSince: number | undefined
  /** settles once both connections are closed */
  readonly closed: Promise<void>
  private readonly up: Relay
  private readonly down: Relay
  private closing = false

  constructor (readonly client: Duplex, readonly upstream: Duplex, options: TunnelOptions) {
    this.key = options.key
    this.replica = options.replica
    this.owner = options.owner
    this.up = new Relay(client, upstream, options.websocket, false, options.toReplica)
    this.down = new Relay(upstream, client, options.websocket, true, options.toClient)
    const ended = (socket: Duplex): Promise<void> => new Promise(resolve => {
      if (socket.destroyed) resolve()
      else socket.once('close', () => { resolve() })
    })
    // an error on either side ends the tunnel; the other side is closed rather than left half-open
    for (const [socket, other] of [[client, upstream], [upstream, client]]) {
      socket.on('error', () => { other.destroy() })
      socket.once('close', () => {
        if (other.writable) other.end()
        this.cutAfterTimeout(other)
      })
    }
    this.closed = Promise.all([ended(client), ended(upstream)]).then(() => {})
  }

  /** Closes the tunnel: a WebSocket with `code` and `reason` each way (see the class comment). */
  close (code: number, reason: string): void {
    if (this.closing) return
    this.closing = true
    const websocket = this.up.frames !== undefined
    this.down.close(websocket ? closeFrame(code, reason, false) : undefined)
    this.up.close(websocket ? closeFrame(code, reason, true) : undefined)
    this.cutAfterTimeout(this.client)
    this.cutAfterTimeout(this.upstream)
  }

  private cutAfterTimeout (socket: Duplex): void {
    if (socket.destroyed) return
    const timer = setTimeout(() => { socket.destroy() }, CLOSE_TIMEOUT_MS)
    timer.unref()
    socket.once('close', () => { clearTimeout(timer) })
  }
}
