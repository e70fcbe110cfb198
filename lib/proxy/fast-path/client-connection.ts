import type { Socket } from 'node:net'
import { parse as parseQuery } from 'node:querystring'
import type { ProxyTarget } from '../lifecycle.js'
import { Exchange, type ExchangeClient, whenDrained } from './exchange.js'
import { readRequestHead } from './heads.js'
import type { FastPathContext } from './options.js'

/** pipelined requests buffered behind the one in flight before the client's socket is paused */
const MAX_QUEUED = 1024 * 1024

/** A client's connection while the fast path has it: its requests read one after another, each carried by an Exchange. */
export class ClientConnection<R extends ProxyTarget> implements ExchangeClient {
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

  constructor (private readonly fast: FastPathContext<R>, readonly socket: Socket) {
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
    const read = readRequestHead(buffered, this.fast.options.lifecycle.keyHeaders)
    if (read.kind === 'handoff') {
      this.handOff()
      return
    }
    const { options } = this.fast
    if (read.kind === 'wait') {
      this.headTimer ??= setTimeout(() => { this.socket.destroy() }, options.headersTimeoutMs)
      return
    }
    clearTimeout(this.headTimer)
    this.headTimer = undefined
    const { lifecycle } = options
    const { head, end } = read
    if (options.isOwn(head.path)) {
      this.handOff()
      return
    }
    // parsing a query costs: only one that may hold a key parameter (perhaps %-encoded) is parsed
    const query = head.query !== '' && (head.query.includes('%') || lifecycle.keyParameters.some(name => head.query.includes(name))) ? parseQuery(head.query) : undefined
    const request = lifecycle.begin({ query, headers: head.keyHeaders, url: head.target, ip: this.socket.remoteAddress }, head.method)
    // no replica to send it to: the undici path answers, in the contract's error shape
    if (request === undefined) {
      this.handOff()
      return
    }
    this.buffered = buffered.length > end ? buffered.subarray(end) : undefined
    this.socket.setTimeout(0)
    this.exchange = new Exchange(this.fast, this, head, request)
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
    this.fast.forget(socket)
    this.fast.options.handOff(socket)
    // what was put back is read first: resume() emits it on the next tick, before any read from the socket
    socket.resume()
  }
}

function noop (): void {}
