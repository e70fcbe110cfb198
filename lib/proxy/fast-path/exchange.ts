import type { Socket } from 'node:net'
import { errorAnswer } from '../../errors.js'
import { forwardedFor, forwardedProto } from '../headers.js'
import type { ErrorAnswer, ProxiedRequest, ProxyTarget } from '../lifecycle.js'
import { responseHeadEnd } from './heads.js'
import { ChunkedEnd, type Framing, type RequestHead, parseResponseHead } from './http1.js'
import type { FastPathContext } from './options.js'
import type { UpstreamConnection, UpstreamListener } from './upstream-pool.js'

/** a body piece this short goes out in one write with the head */
const SMALL_BODY = 16 * 1024

type Stage = 'waiting' | 'body' | 'done'

/** The client connection an exchange answers on. */
export interface ExchangeClient {
  readonly socket: Socket
  /** The answer in flight is done; `close` when the connection ends with it. */
  finished: (close: boolean) => void
}

/** One request carried to a replica (and, if the lifecycle says so, to the next one), its answer carried back. */
export class Exchange<R extends ProxyTarget> implements UpstreamListener {
  private stage: Stage = 'waiting'
  private upstream: UpstreamConnection | undefined
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
  private readonly tail: string

  constructor (private readonly fast: FastPathContext<R>, private readonly client: ExchangeClient, private readonly head: RequestHead, private readonly request: ProxiedRequest<R>) {
    this.close = head.close
    const forwarded = forwardedFor(head.forwardedFor, client.socket.remoteAddress)
    let tail = ''
    for (const line of head.lines) tail += `${line}\r\n`
    if (forwarded !== undefined) tail += `x-forwarded-for: ${forwarded}\r\n`
    if (head.host !== undefined) tail += `x-forwarded-host: ${head.host}\r\n`
    this.tail = `${tail}x-forwarded-proto: ${forwardedProto(client.socket)}\r\n\r\n`
    this.send()
  }

  private send (): void {
    const pool = this.fast.pool(this.request.replica)
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
      let end
      let response
      try {
        end = responseHeadEnd(data, start)
        if (end === -1) {
          this.pending = data.subarray(start)
          return
        }
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
      let out = `${response.lines.join('\r\n')}\r\nx-ringlb-replica: ${this.request.replica.hostname}\r\n`
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
    this.request.answered(this.statusCode)
    this.client.finished(this.close)
  }

  upstreamTimeout (): void {
    if (this.stage === 'waiting') this.noAnswer('ETIMEDOUT')
    else this.broken()
  }

  upstreamClosed (error: Error | undefined): void {
    this.upstream = undefined
    if (this.stage === 'done') return
    if (this.stage === 'waiting') {
      this.noAnswer((error as { code?: string } | undefined)?.code ?? 'ECONNRESET')
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
    this.request.clientGone()
  }

  /** Unhooks the replica's connection from this exchange. */
  private detach (): UpstreamConnection | undefined {
    clearTimeout(this.stall)
    const upstream = this.upstream
    this.upstream = undefined
    if (upstream !== undefined) {
      upstream.exchange = undefined
      upstream.socket.setTimeout(0)
    }
    return upstream
  }

  /** The replica did not answer: the lifecycle says where to try next, or what to answer. */
  private noAnswer (code: string): void {
    this.detach()?.socket.destroy()
    const outcome = this.request.noAnswer(code)
    if ('retry' in outcome) this.send()
    else this.answerError(outcome)
  }

  /** The replica answered something that is not HTTP. */
  private bad (error: Error): void {
    this.detach()?.socket.destroy()
    // the client's connection closes too (docs/http-strictness.md): whatever came with that answer is not trusted
    this.close = true
    this.answerError(this.request.badAnswer(error.message))
  }

  /** The answer broke off midway: the client's connection is closed. */
  private broken (): void {
    this.stage = 'done'
    this.detach()?.socket.destroy()
    this.client.socket.destroy()
    this.request.broken()
  }

  private answerError ({ statusCode, message }: ErrorAnswer): void {
    this.stage = 'done'
    if (this.fast.options.closing()) this.close = true
    const headers = [`x-ringlb-replica: ${this.request.replica.hostname}`, `date: ${new Date().toUTCString()}`]
    if (this.close) headers.push('connection: close')
    this.client.socket.write(errorAnswer(statusCode, message, headers, this.head.method))
    this.client.finished(this.close)
  }
}

/**
 * Calls `then` once `socket` has taken what was written to it; a client that
 * takes nothing for `timeoutMs` (0: no limit) is cut off. Returns that timer.
 */
export function whenDrained (socket: Socket, timeoutMs: number, then: () => void): NodeJS.Timeout | undefined {
  const stall = timeoutMs > 0 ? setTimeout(() => { socket.destroy() }, timeoutMs) : undefined
  socket.once('drain', () => {
    clearTimeout(stall)
    then()
  })
  return stall
}
