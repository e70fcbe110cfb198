import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import { HOP_BY_HOP } from './fast-path/http1.js'

/*
 * Sends one request to a replica over undici and writes the answer straight
 * into the client's response, chunk by chunk as it arrives, with undici's
 * flow control (pause while the client's socket is full). This is the proxy's
 * hot path: it has no stream objects in between, where @fastify/reply-from
 * (undici's `request`, a Readable body handed to Fastify's send) costs about
 * 40 µs more CPU per request, and undici's `stream` about 10 (npm run bench:proxy).
 */

/**
 * Request headers the balancer answers for itself: `host` is the replica's own
 * (as nginx's proxy_pass does), `content-length` is recomputed from the body as
 * read, and `expect: 100-continue` was already answered to the client.
 */
const OWN_REQUEST_HEADERS = new Set(['host', 'content-length', 'expect'])

type Headers = Record<string, string | string[] | undefined>

/** The header names a `Connection` header lists: hop-by-hop for that message too. */
function listedInConnection (headers: Headers): Set<string> | undefined {
  const connection = headers.connection
  if (typeof connection !== 'string' || connection === '') return undefined
  const names = connection.toLowerCase().split(',').map(name => name.trim())
  return names.every(name => name === 'close' || name === 'keep-alive') ? undefined : new Set(names)
}

/**
 * The headers a replica receives: the client's, less hop-by-hop ones, with the
 * X-Forwarded-For/-Host/-Proto trio a balancer adds (For is appended to, as
 * nginx's $proxy_add_x_forwarded_for does).
 */
export function upstreamHeaders (request: IncomingMessage): Record<string, string | string[]> {
  const incoming: IncomingHttpHeaders = request.headers
  const listed = listedInConnection(incoming)
  const out: Record<string, string | string[]> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined || HOP_BY_HOP.has(name) || OWN_REQUEST_HEADERS.has(name) || listed?.has(name) === true) continue
    out[name] = value
  }
  const client = request.socket.remoteAddress
  if (client !== undefined) {
    const before = incoming['x-forwarded-for']
    out['x-forwarded-for'] = before === undefined || before === '' ? client : `${String(before)}, ${client}`
  }
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host
  out['x-forwarded-proto'] = 'http'
  return out
}

/** The replica's response headers as the client gets them: hop-by-hop ones removed. */
export function downstreamHeaders (headers: Headers): OutgoingHttpHeaders {
  const listed = listedInConnection(headers)
  const out: OutgoingHttpHeaders = {}
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name) === true) continue
    out[name] = headers[name]
  }
  return out
}

export interface Upstream {
  /** the replica's origin, e.g. http://127.0.0.1:40123 */
  origin: string
  method: string
  /** path and query, as the client sent them */
  path: string
  headers: Record<string, string | string[]>
  body?: Buffer
  /**
   * How long to wait for the replica's headers, then between its body chunks,
   * and for a client that has stopped reading to take more (nginx's
   * proxy_read_timeout and send_timeout, in one); 0 waits as long as it takes
   */
  timeoutMs: number
}

export interface ForwardHandlers {
  /** The replica's answer has begun: write its status and headers to the client's response. */
  onResponse: (statusCode: number, headers: Headers) => void
  /**
   * The exchange failed. `answered` says whether the replica's answer had
   * begun: if so, the client's connection has been closed mid-answer (as nginx
   * does); if not, nothing was sent yet and the request may be answered
   * otherwise or tried elsewhere. A client that left ends the exchange with a
   * `ClientGone` error.
   */
  onError: (error: Error, answered: boolean) => void
}

/** Why an exchange is abandoned when the client goes away before its answer is whole. */
export class ClientGone extends Error {
  constructor () {
    super('the client closed its connection')
    this.name = 'ClientGone'
  }
}

/** One exchange with a replica, as an undici dispatch handler writing into the client's response. */
class Exchange implements Dispatcher.DispatchHandler {
  private answered = false
  private over = false
  /** set while the client's socket is full: it must drain within the timeout */
  private stall: NodeJS.Timeout | undefined

  constructor (private readonly response: ServerResponse, private readonly handlers: ForwardHandlers, private readonly timeoutMs: number) {}

  onRequestStart (controller: Dispatcher.DispatchController): void {
    const response = this.response
    if (response.destroyed) {
      controller.abort(new ClientGone())
      return
    }
    // a client that leaves, before the answer or during it, ends the exchange with the replica too
    response.once('close', () => { if (!this.over && !response.writableFinished) controller.abort(new ClientGone()) })
  }

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    // may throw (a header Node will not write): undici then ends the exchange with that error, unanswered
    this.handlers.onResponse(statusCode, headers)
    this.answered = true
    this.response.on('drain', () => {
      clearTimeout(this.stall)
      this.stall = undefined
      controller.resume()
    })
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.response.write(chunk)) return
    controller.pause()
    if (this.timeoutMs > 0) this.stall ??= setTimeout(() => { this.response.destroy() }, this.timeoutMs)
  }

  onResponseEnd (): void {
    this.finish()
    this.response.end()
  }

  onResponseError (_controller: Dispatcher.DispatchController, error: Error): void {
    this.finish()
    // an answer already begun cannot be completed: the client's connection closes
    if (this.answered && !this.response.destroyed) this.response.destroy()
    this.handlers.onError(error, this.answered)
  }

  private finish (): void {
    this.over = true
    clearTimeout(this.stall)
  }
}

/** Forwards one request through `dispatcher` (our per-replica pools), its answer into `response`. */
export function forward (dispatcher: Dispatcher, upstream: Upstream, response: ServerResponse, handlers: ForwardHandlers): void {
  dispatcher.dispatch({
    origin: upstream.origin,
    method: upstream.method as Dispatcher.HttpMethod,
    path: upstream.path,
    headers: upstream.headers,
    body: upstream.body,
    headersTimeout: upstream.timeoutMs,
    bodyTimeout: upstream.timeoutMs
  }, new Exchange(response, handlers, upstream.timeoutMs))
}
