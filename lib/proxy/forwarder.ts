import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import { trimOws } from './headers.js'
import type { ErrorAnswer, ProxiedRequest, ProxyTarget } from './lifecycle.js'

/*
 * The undici transport: sends one request to a replica and writes the answer
 * straight into the client's response, chunk by chunk as it arrives, with
 * undici's flow control (pause while the client's socket is full). It carries
 * every request the fast path leaves to Fastify (a body, another method,
 * anything unusual), and a cluster worker's relay of the balancer's own
 * routes to the primary. It has no stream objects in between, where
 * @fastify/reply-from (undici's `request`, a Readable body handed to Fastify's
 * send) costs about 40 µs more CPU per request, and undici's `stream` about 10
 * (npm run bench:proxy).
 */

type Headers = Record<string, string | string[] | undefined>

/** A request as the forwarder sends it on. */
export interface ForwardedRequest {
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
  /** The answer went to the client whole. */
  onEnd?: (statusCode: number) => void
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

/** Why the framing of an answer cannot be trusted, or undefined: undici reads a Transfer-Encoding other than `chunked` as a body until the connection closes, which nginx passes on and HAProxy refuses. */
function framingFault (headers: Headers): string | undefined {
  const coding = headers['transfer-encoding']
  if (coding === undefined) return undefined
  return typeof coding === 'string' && trimOws(coding).toLowerCase() === 'chunked' && !coding.endsWith('\t') ? undefined : `unsupported Transfer-Encoding: ${String(coding)}`
}

/** One exchange with a replica, as an undici dispatch handler writing into the client's response. */
class AnswerWriter implements Dispatcher.DispatchHandler {
  private answered = false
  private statusCode = 0
  private over = false
  /** the answer has no body (204, 304, a HEAD's): it ended with its head, whatever the replica sends after */
  private bodiless = false
  /** set while the client's socket is full: it must drain within the timeout */
  private stall: NodeJS.Timeout | undefined

  constructor (private readonly response: ServerResponse, private readonly handlers: ForwardHandlers, private readonly timeoutMs: number, private readonly method: string) {}

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
    // an interim answer: a 103's preload links go on as Early Hints, the final answer follows
    if (statusCode < 200) {
      if (statusCode === 103 && headers.link !== undefined) this.response.writeEarlyHints({ link: headers.link })
      return
    }
    const fault = framingFault(headers)
    // a throw here (or a header Node will not write) makes undici end the exchange with that error, unanswered: a 502
    if (fault !== undefined) throw new Error(fault)
    this.handlers.onResponse(statusCode, headers)
    this.answered = true
    this.statusCode = statusCode
    if (statusCode === 204 || statusCode === 304 || this.method === 'HEAD') {
      // body bytes a replica sends anyway never reach the client, and undici does not reuse that connection
      this.bodiless = true
      this.onResponseEnd()
      return
    }
    this.response.on('drain', () => {
      clearTimeout(this.stall)
      this.stall = undefined
      controller.resume()
    })
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.bodiless || this.response.write(chunk)) return
    controller.pause()
    if (this.timeoutMs > 0) this.stall ??= setTimeout(() => { this.response.destroy() }, this.timeoutMs)
  }

  onResponseEnd (): void {
    if (this.over) return
    this.finish()
    this.response.end()
    this.handlers.onEnd?.(this.statusCode)
  }

  onResponseError (_controller: Dispatcher.DispatchController, error: Error): void {
    // a bodiless answer was whole with its head: what undici found wrong after it is the replica connection's end only
    if (this.bodiless) return
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

/** Upstream failures that mean the replica did not answer at all. */
const NO_ANSWER = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT'])

/** The code of a failure that means the replica did not answer at all; undefined for one that answered badly. */
function noAnswerCode (error: Error): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause
  const code = cause?.code ?? (error as { code?: string }).code
  return code !== undefined && NO_ANSWER.has(code) ? code : undefined
}

/**
 * What the lifecycle makes of an undici failure before any answer: no answer
 * at all (retried on the next replica when the lifecycle says so) or an answer
 * refused as malformed, which is never retried (`malformed`).
 */
export function failedAttempt<R extends ProxyTarget> (proxied: ProxiedRequest<R>, error: Error): { outcome: { retry: R } | ErrorAnswer, malformed: boolean } {
  const code = noAnswerCode(error)
  return code === undefined ? { outcome: proxied.badAnswer(error.message), malformed: true } : { outcome: proxied.noAnswer(code), malformed: false }
}

/** Forwards one request through `dispatcher` (our per-replica pools), its answer into `response`. */
export function forward (dispatcher: Dispatcher, upstream: ForwardedRequest, response: ServerResponse, handlers: ForwardHandlers): void {
  dispatcher.dispatch({
    origin: upstream.origin,
    method: upstream.method as Dispatcher.HttpMethod,
    path: upstream.path,
    headers: upstream.headers,
    body: upstream.body,
    headersTimeout: upstream.timeoutMs,
    bodyTimeout: upstream.timeoutMs
  }, new AnswerWriter(response, handlers, upstream.timeoutMs, upstream.method))
}
