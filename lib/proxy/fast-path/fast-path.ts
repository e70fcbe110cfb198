import { type Socket, connect } from 'node:net'
import { parse as parseQuery } from 'node:querystring'
import { performance } from 'node:perf_hooks'
import { badAnswerMessage, noAnswerMessage } from '../../errors.js'
import { BadResponse, ChunkedEnd, type Framing, type RequestHead, errorAnswer, headEnd, parseRequestHead, parseResponseHead } from './http1.js'
import { requestKey } from '../request-key.js'

/*
 * The proxy's fast path: GET and HEAD requests forwarded on the sockets
 * themselves, the request head checked and passed on line by line, the answer
 * passed back as the bytes came, followed only far enough to know where it
 * ends. Node's HTTP server and an HTTP client in between cost a Node proxy
 * about 58 µs of CPU per request here, where nginx spends 22; this costs about
 * 37 (npm run bench:proxy). Any request it is not sure of (a body, an upgrade,
 * the balancer's own routes, anything unusual) goes, with its connection, to
 * the HTTP server and the proxy plugin as before.
 */

export interface FastPathReplica {
  readonly hostname: string
  /** the replica's origin, e.g. http://127.0.0.1:40123 */
  readonly url: string
}

export interface FastPathOptions<R extends FastPathReplica> {
  /** the replica that serves a key, or undefined when there is none (the HTTP server answers then) */
  pick: (key: number) => R | undefined
  /** where to try once more a request the replica did not answer, if anywhere */
  retryOn: (key: number, failed: R) => R | undefined
  load: { inc: (hostname: string) => void, dec: (hostname: string) => void }
  reportFailure: (hostname: string) => void
  metrics: {
    answered: (hostname: string, statusCode: number, seconds: number) => void
    broken: (hostname: string) => void
    retried: (hostname: string) => void
  }
  /** a path the balancer answers itself */
  isOwn: (path: string) => boolean
  /** nginx's proxy_read_timeout and send_timeout, as in lib/forward.ts; 0 waits as long as it takes */
  timeoutMs: number
  /** how long an idle client connection is kept open */
  keepAliveTimeoutMs: number
  /** how long a request head may take to arrive whole once it has begun */
  headersTimeoutMs: number
  closing: () => boolean
  /** gives a connection, with what it sent that was not read yet put back, to the HTTP server */
  handOff: (socket: Socket) => void
}

/** The longest request head the fast path reads; a longer one is left to Node (which answers 431). */
const MAX_REQUEST_HEAD = 16 * 1024
const MAX_RESPONSE_HEAD = 64 * 1024
/** pipelined requests buffered behind the one in flight before the client's socket is paused */
const MAX_QUEUED = 1024 * 1024
/** an idle upstream connection older than this is not reused: the replica may be closing it (undici's default too) */
const UPSTREAM_IDLE_MS = 4000
const MAX_IDLE_UPSTREAMS = 128
/** a body piece this short goes out in one write with the head */
const SMALL_BODY = 16 * 1024

/** A failure of a replica to answer at all: safe to try elsewhere. */
class NoAnswer extends Error {
  constructor (readonly code: string) {
    super(code)
  }
}

export class FastPath<R extends FastPathReplica> {
  private readonly clients = new Set<ClientConnection<R>>()
  private readonly pools = new Map<string, UpstreamPool>()
  private closed = false

  constructor (readonly options: FastPathOptions<R>) {}

  /** Takes a new client connection. */
  accept (socket: Socket): void {
    const client = new ClientConnection(this, socket)
    this.clients.add(client)
    socket.once('close', () => { this.clients.delete(client) })
  }

  /** Closes the connections to a replica that left: idle ones now, busy ones when their answer is done. */
  release (origin: string): void {
    this.pools.get(origin)?.close()
    this.pools.delete(origin)
  }

  /** the replica origins connections are kept to */
  origins (): string[] {
    return [...this.pools.keys()]
  }

  /** The balancer is closing: idle connections close now, the others after their answer. */
  close (): void {
    this.closed = true
    for (const client of this.clients) client.closeIfIdle()
    for (const pool of this.pools.values()) pool.close()
    this.pools.clear()
  }

  forget (client: ClientConnection<R>): void {
    this.clients.delete(client)
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

class ClientConnection<R extends FastPathReplica> {
  private buffered: Buffer | undefined
  /** what arrives while an answer is in flight, joined only when the next request is read */
  private queued: Buffer[] = []
  private queuedBytes = 0
  /** the connection is ending: nothing more is read from it */
  private ending = false
  private exchange: Exchange<R> | undefined
  /** set while a request head has begun to arrive but is not whole (a slow client, or a slowloris) */
  private headTimer: NodeJS.Timeout | undefined
  private readonly onData = (chunk: Buffer): void => { this.received(chunk) }
  private readonly onTimeout = (): void => { this.socket.destroy() }
  /** a client that stops sending has left, as Node's HTTP server takes it: its answer is not sent */
  private readonly onEnd = (): void => { this.socket.destroy() }
  private readonly onClose = (): void => {
    clearTimeout(this.headTimer)
    this.exchange?.clientGone()
  }

  constructor (private readonly fast: FastPath<R>, readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', this.onData)
    socket.on('error', noop)
    socket.on('end', this.onEnd)
    socket.on('close', this.onClose)
    socket.on('timeout', this.onTimeout)
    socket.setTimeout(fast.options.keepAliveTimeoutMs)
  }

  closeIfIdle (): void {
    if (this.exchange !== undefined) return
    // an answer the client has not taken whole yet is still its own: the connection ends after it
    if (this.socket.writableLength > 0) this.end()
    else this.socket.destroy()
  }

  /** Ends the connection once what was written is sent; the server's sockets allow half-open connections, so it is then destroyed. */
  private end (): void {
    this.ending = true
    const { socket } = this
    // a client that takes nothing more is not waited for past the keep-alive timeout
    socket.setTimeout(this.fast.options.keepAliveTimeoutMs)
    socket.end(() => { socket.destroy() })
  }

  /** The answer in flight is done; `close` when the connection ends with it. */
  finished (close: boolean): void {
    this.exchange = undefined
    const { socket } = this
    if (close || this.fast.options.closing()) {
      this.end()
      return
    }
    if (socket.writableNeedDrain) {
      // the client is not taking its answers: read no more requests until it does (as Node's server does)
      socket.pause()
      whenDrained(socket, this.fast.options.timeoutMs, () => { this.ready() })
      return
    }
    this.ready()
  }

  /** Ready for the next request: the one already queued, or whatever comes. */
  private ready (): void {
    if (this.socket.destroyed) return
    this.socket.setTimeout(this.fast.options.keepAliveTimeoutMs)
    if (this.socket.isPaused()) this.socket.resume()
    if (this.queued.length > 0) {
      this.buffered = Buffer.concat(this.buffered === undefined ? this.queued : [this.buffered, ...this.queued])
      this.queued = []
      this.queuedBytes = 0
    }
    if (this.buffered !== undefined) this.next()
  }

  private received (chunk: Buffer): void {
    if (this.ending) return
    if (this.exchange !== undefined) {
      this.queued.push(chunk)
      this.queuedBytes += chunk.length
      if (this.queuedBytes > MAX_QUEUED) this.socket.pause()
      return
    }
    this.buffered = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk])
    this.next()
  }

  /** Starts on the next request buffered, or hands the connection over if it is not one for the fast path. */
  private next (): void {
    const buffered = this.buffered as Buffer
    const end = headEnd(buffered)
    if (end === -1 ? buffered.length > MAX_REQUEST_HEAD : end > MAX_REQUEST_HEAD) {
      this.handOff()
      return
    }
    const { options } = this.fast
    if (end === -1) {
      this.headTimer ??= setTimeout(() => { this.socket.destroy() }, options.headersTimeoutMs)
      return
    }
    clearTimeout(this.headTimer)
    this.headTimer = undefined
    const head = parseRequestHead(buffered.toString('latin1', 0, end))
    if (head === undefined || options.isOwn(head.path)) {
      this.handOff()
      return
    }
    const query = head.query.includes('id') || head.query.includes('%') ? parseQuery(head.query) : undefined
    const key = requestKey({ query, headers: { 'x-request-id': head.requestId } })
    const replica = options.pick(key)
    // no replica to send it to: the proxy plugin answers, in the contract's error shape
    if (replica === undefined) {
      this.handOff()
      return
    }
    this.buffered = buffered.length > end + 4 ? buffered.subarray(end + 4) : undefined
    this.socket.setTimeout(0)
    this.exchange = new Exchange(this.fast, this, head, key, replica)
  }

  private handOff (): void {
    const { socket } = this
    clearTimeout(this.headTimer)
    socket.off('data', this.onData)
    socket.off('error', noop)
    socket.off('end', this.onEnd)
    socket.off('close', this.onClose)
    socket.off('timeout', this.onTimeout)
    socket.setTimeout(0)
    socket.pause()
    if (this.buffered !== undefined) socket.unshift(this.buffered)
    this.buffered = undefined
    this.fast.forget(this)
    this.fast.options.handOff(socket)
    // what was put back is read first: resume() emits it on the next tick, before any read from the socket
    socket.resume()
  }
}

/** Kept connections to one replica. */
class UpstreamPool {
  private readonly idle: Upstream[] = []
  private closed = false
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

  acquire (): Upstream {
    const now = performance.now()
    for (let upstream = this.idle.pop(); upstream !== undefined; upstream = this.idle.pop()) {
      if (now - upstream.idleSince < UPSTREAM_IDLE_MS && upstream.socket.readyState === 'open') return upstream
      upstream.socket.destroy()
    }
    return new Upstream(this)
  }

  put (upstream: Upstream): void {
    if (this.closed || this.idle.length >= MAX_IDLE_UPSTREAMS) {
      upstream.socket.destroy()
      return
    }
    upstream.idleSince = performance.now()
    this.idle.push(upstream)
  }

  remove (upstream: Upstream): void {
    const i = this.idle.indexOf(upstream)
    if (i !== -1) this.idle.splice(i, 1)
  }

  close (): void {
    this.closed = true
    for (const upstream of this.idle.splice(0)) upstream.socket.destroy()
  }
}

/** What a replica's connection reports to the exchange it serves. */
interface UpstreamListener {
  upstreamData: (chunk: Buffer) => void
  upstreamTimeout: () => void
  upstreamClosed: (error: Error | undefined) => void
}

/** One connection to a replica, serving one exchange at a time. */
class Upstream {
  readonly socket: Socket
  exchange: UpstreamListener | undefined
  idleSince = 0
  private error: Error | undefined

  constructor (readonly pool: UpstreamPool) {
    const socket = this.socket = connect(pool.port, pool.hostname)
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
      pool.remove(this)
      const exchange = this.exchange
      this.exchange = undefined
      exchange?.upstreamClosed(this.error)
    })
  }
}

type Stage = 'waiting' | 'body' | 'done'

/** One request, sent to a replica (and, if it does not answer, once more to the next). */
class Exchange<R extends FastPathReplica> implements UpstreamListener {
  private stage: Stage = 'waiting'
  private replica: R
  private upstream: Upstream | undefined
  private retried = false
  private statusCode = 0
  private pending: Buffer | undefined
  private framing: Framing = { kind: 'none' }
  private remaining = 0
  private chunked: ChunkedEnd | undefined
  /** the replica's connection can serve another request after this answer */
  private reusable = true
  /** the client's connection closes after this answer */
  private close: boolean
  private stall: NodeJS.Timeout | undefined
  private readonly started = performance.now()
  private readonly tail: string

  constructor (private readonly fast: FastPath<R>, private readonly client: ClientConnection<R>, private readonly head: RequestHead, private readonly key: number, replica: R) {
    this.replica = replica
    this.close = head.close
    // X-Forwarded-For appended to, as nginx's $proxy_add_x_forwarded_for does
    const address = client.socket.remoteAddress
    const forwardedFor = address === undefined ? head.forwardedFor : head.forwardedFor === undefined || head.forwardedFor === '' ? address : `${head.forwardedFor}, ${address}`
    let tail = ''
    for (const line of head.lines) tail += `${line}\r\n`
    if (forwardedFor !== undefined) tail += `x-forwarded-for: ${forwardedFor}\r\n`
    if (head.host !== undefined) tail += `x-forwarded-host: ${head.host}\r\n`
    this.tail = `${tail}x-forwarded-proto: http\r\n\r\n`
    this.send()
  }

  private send (): void {
    const { hostname } = this.replica
    this.fast.options.load.inc(hostname)
    const pool = this.fast.pool(this.replica)
    const upstream = this.upstream = pool.acquire()
    upstream.exchange = this
    this.stage = 'waiting'
    this.pending = undefined
    this.reusable = true
    if (this.fast.options.timeoutMs > 0) upstream.socket.setTimeout(this.fast.options.timeoutMs)
    upstream.socket.write(`${this.head.method} ${this.head.target} HTTP/1.1\r\nhost: ${pool.host}\r\n${this.tail}`, 'latin1')
  }

  upstreamData (chunk: Buffer): void {
    if (this.stage === 'waiting') {
      const data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk])
      this.pending = undefined
      this.readHead(data)
    } else if (this.stage === 'body') {
      this.readBody(chunk, 0)
    } else {
      // more than the answer held: the connection is out of step, never reuse it
      this.upstream?.socket.destroy()
    }
  }

  private readHead (data: Buffer): void {
    let start = 0
    for (;;) {
      const end = data.indexOf('\r\n\r\n', start, 'latin1')
      if (end === -1) {
        if (data.length - start > MAX_RESPONSE_HEAD) this.bad(new BadResponse('response head too large'))
        else this.pending = data.subarray(start)
        return
      }
      let response
      try {
        response = parseResponseHead(data.toString('latin1', start, end), this.head.method)
      } catch (error) {
        this.bad(error as Error)
        return
      }
      start = end + 4
      if (response.close) this.reusable = false
      // an interim answer (103 Early Hints) goes on as it is; the final one follows
      if (response.statusCode < 200) {
        this.client.socket.write(`${response.lines.join('\r\n')}\r\n\r\n`, 'latin1')
        continue
      }
      this.statusCode = response.statusCode
      this.framing = response.framing
      if (this.fast.options.closing() || response.framing.kind === 'close') this.close = true
      let out = `${response.lines.join('\r\n')}\r\nx-ringlb-replica: ${this.replica.hostname}\r\n`
      if (this.close) out += 'connection: close\r\n'
      out += '\r\n'
      this.stage = 'body'
      if (response.framing.kind === 'length') this.remaining = response.framing.length
      if (response.framing.kind === 'chunked') this.chunked = new ChunkedEnd()
      const rest = data.length - start
      if (rest > 0 && rest <= SMALL_BODY && this.framing.kind === 'length' && rest <= this.remaining) {
        // the usual small answer, whole in one read: one write for head and body
        this.remaining -= rest
        this.write(out + data.toString('latin1', start), 'latin1')
        if (this.remaining === 0) this.done()
        return
      }
      this.write(out, 'latin1')
      if (this.framing.kind === 'none' || (this.framing.kind === 'length' && this.remaining === 0)) {
        if (rest > 0) this.reusable = false
        this.done()
        return
      }
      if (rest > 0) this.readBody(data, start)
      return
    }
  }

  private readBody (data: Buffer, from: number): void {
    let end = data.length
    let over = false
    if (this.framing.kind === 'length') {
      const take = Math.min(this.remaining, data.length - from)
      this.remaining -= take
      end = from + take
      over = this.remaining === 0
    } else if (this.framing.kind === 'chunked') {
      let at
      try {
        at = (this.chunked as ChunkedEnd).scan(data, from)
      } catch {
        this.broken()
        return
      }
      if (at !== -1) {
        end = at
        over = true
      }
    }
    if (end > from) this.write(from === 0 && end === data.length ? data : data.subarray(from, end))
    if (!over) return
    if (end < data.length) this.reusable = false
    this.done()
  }

  /** Writes to the client, pausing the replica while the client's socket is full. */
  private write (data: string | Buffer, encoding?: BufferEncoding): void {
    const socket = this.client.socket
    const flowing = encoding === undefined ? socket.write(data) : socket.write(data as string, encoding)
    // a client gone already (its close is on its way) has nothing to wait for
    if (flowing || socket.destroyed || this.upstream === undefined) return
    const upstream = this.upstream
    upstream.socket.pause()
    upstream.socket.setTimeout(0)
    // already waiting: the replica is paused, and one drain resumes it
    if (this.stall !== undefined) return
    const timeoutMs = this.fast.options.timeoutMs
    this.stall = whenDrained(socket, timeoutMs, () => {
      this.stall = undefined
      if (this.upstream !== upstream) return
      if (timeoutMs > 0) upstream.socket.setTimeout(timeoutMs)
      upstream.socket.resume()
    })
  }

  /** The whole answer has gone to the client. */
  private done (): void {
    this.stage = 'done'
    const upstream = this.detach()
    if (upstream !== undefined) {
      // one paused for a client that stopped reading may hold bytes read meanwhile: not reused
      if (this.reusable && upstream.socket.readyState === 'open' && !upstream.socket.isPaused()) upstream.pool.put(upstream)
      else upstream.socket.destroy()
    }
    this.fast.options.metrics.answered(this.replica.hostname, this.statusCode, (performance.now() - this.started) / 1000)
    this.client.finished(this.close)
  }

  upstreamTimeout (): void {
    if (this.stage === 'waiting') this.noAnswer(new NoAnswer('ETIMEDOUT'))
    else this.broken()
  }

  upstreamClosed (error: Error | undefined): void {
    this.upstream = undefined
    if (this.stage === 'done') return
    if (this.stage === 'waiting') {
      this.noAnswer(new NoAnswer((error as { code?: string } | undefined)?.code ?? 'ECONNRESET'))
    } else if (this.framing.kind === 'close' && error === undefined) {
      this.done()
    } else {
      this.broken()
    }
  }

  /** The client left: the replica's answer is cut off too, and nothing is counted. */
  clientGone (): void {
    if (this.stage === 'done') return
    this.stage = 'done'
    this.detach()?.socket.destroy()
  }

  /** Unhooks the replica's connection from this exchange and counts the request out of flight. */
  private detach (): Upstream | undefined {
    clearTimeout(this.stall)
    const upstream = this.upstream
    this.upstream = undefined
    if (upstream !== undefined) {
      upstream.exchange = undefined
      upstream.socket.setTimeout(0)
    }
    this.fast.options.load.dec(this.replica.hostname)
    return upstream
  }

  /** The replica did not answer: it is reported, and the request tried once on the next replica. */
  private noAnswer (failure: NoAnswer): void {
    const { options } = this.fast
    const failed = this.replica
    this.detach()?.socket.destroy()
    options.reportFailure(failed.hostname)
    const next = this.retried ? undefined : options.retryOn(this.key, failed)
    if (next !== undefined) {
      options.metrics.retried(failed.hostname)
      this.retried = true
      this.replica = next
      this.send()
      return
    }
    this.answerError(failure.code === 'ETIMEDOUT' ? 504 : 502, noAnswerMessage(failed.hostname, failure.code))
  }

  /** The replica answered something that is not HTTP: a 502, not retried (it did answer). */
  private bad (error: Error): void {
    this.detach()?.socket.destroy()
    this.answerError(502, badAnswerMessage(this.replica.hostname, error.message))
  }

  /** The answer broke off midway: the client's connection is closed, as nginx does. */
  private broken (): void {
    this.stage = 'done'
    this.detach()?.socket.destroy()
    this.client.socket.destroy()
    this.fast.options.metrics.broken(this.replica.hostname)
    this.fast.options.reportFailure(this.replica.hostname)
  }

  private answerError (statusCode: number, message: string): void {
    this.stage = 'done'
    this.statusCode = statusCode
    if (this.fast.options.closing()) this.close = true
    const headers = [`x-ringlb-replica: ${this.replica.hostname}`, `date: ${new Date().toUTCString()}`]
    if (this.close) headers.push('connection: close')
    this.client.socket.write(errorAnswer(statusCode, message, headers, this.head.method))
    this.fast.options.metrics.answered(this.replica.hostname, statusCode, (performance.now() - this.started) / 1000)
    this.client.finished(this.close)
  }
}

/**
 * Calls `then` once `socket` has taken what was written to it; a client that
 * takes nothing for `timeoutMs` (0: no limit) is cut off. Returns that timer.
 */
function whenDrained (socket: Socket, timeoutMs: number, then: () => void): NodeJS.Timeout | undefined {
  const stall = timeoutMs > 0 ? setTimeout(() => { socket.destroy() }, timeoutMs) : undefined
  socket.once('drain', () => {
    clearTimeout(stall)
    then()
  })
  return stall
}

function noop (): void {}
