import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'

/*
 * Sends one request to a replica over undici and writes the answer straight
 * into the client's response, chunk by chunk as it arrives, with undici's
 * flow control (pause while the client's socket is full). This is the proxy's
 * hot path: it has no stream objects in between, where @fastify/reply-from
 * (undici's `request`, a Readable body handed to Fastify's send) costs about
 * 40 µs more CPU per request, and undici's `stream` about 10 (npm run bench:proxy).
 */

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

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
  /** how long to wait for the replica's headers, and then between body chunks */
  timeoutMs: number
}

export interface ForwardHandlers {
  /** The replica's answer has begun: write its status and headers to the client's response, and return that response. */
  onResponse: (statusCode: number, headers: Headers) => ServerResponse
  /**
   * The exchange failed. `answered` says whether the replica's answer had
   * begun: if so, the client's connection has been closed mid-answer (as nginx
   * does); if not, nothing was sent yet and the request may be answered
   * otherwise or tried elsewhere.
   */
  onError: (error: Error, answered: boolean) => void
}

/** Why an exchange is abandoned when the client goes away before its answer is whole. */
class ClientGone extends Error {
  constructor () {
    super('the client closed its connection')
    this.name = 'ClientGone'
  }
}

/** One exchange with a replica, as an undici dispatch handler. */
class Exchange implements Dispatcher.DispatchHandler {
  private response: ServerResponse | undefined

  constructor (private readonly handlers: ForwardHandlers) {}

  /** Nothing to do; undici tells this handler API from its older one by this method. */
  onRequestStart (): void {}

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    const response = this.handlers.onResponse(statusCode, headers)
    this.response = response
    if (response.destroyed) {
      controller.abort(new ClientGone())
      return
    }
    response.on('drain', () => { controller.resume() })
    response.once('close', () => { if (!response.writableFinished) controller.abort(new ClientGone()) })
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.response?.write(chunk) === false) controller.pause()
  }

  onResponseEnd (): void {
    this.response?.end()
  }

  onResponseError (_controller: Dispatcher.DispatchController, error: Error): void {
    const response = this.response
    // an answer already begun cannot be completed: the client's connection closes
    if (response !== undefined && !response.destroyed) response.destroy()
    this.handlers.onError(error, response !== undefined)
  }
}

/** Forwards one request through `dispatcher` (our per-replica pools). */
export function forward (dispatcher: Dispatcher, upstream: Upstream, handlers: ForwardHandlers): void {
  dispatcher.dispatch({
    origin: upstream.origin,
    method: upstream.method as Dispatcher.HttpMethod,
    path: upstream.path,
    headers: upstream.headers,
    body: upstream.body,
    headersTimeout: upstream.timeoutMs,
    bodyTimeout: upstream.timeoutMs
  }, new Exchange(handlers))
}
