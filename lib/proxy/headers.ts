import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { Socket } from 'node:net'

/*
 * The header rules of a proxied request, for both transports: which headers
 * describe one connection and never pass, what a `Connection` header lists,
 * and the X-Forwarded-* trio the balancer writes. The fast path applies them
 * to raw header lines (fast-path/http1.ts), the undici path to Node's
 * header objects (below).
 */

/** Headers that describe one connection (RFC 9110 §7.6.1): never forwarded, on either side. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

/**
 * Request headers the balancer writes itself: `host` is the replica's own (as
 * nginx's proxy_pass does), X-Forwarded-Host and -Proto come from what the
 * balancer saw, not from the client.
 */
const BALANCER_WRITES = new Set(['host', 'x-forwarded-host', 'x-forwarded-proto'])

/** `Host` as RFC 9110 §7.2 has it: a uri-host (reg-name or bracketed IP literal) and an optional port; no userinfo, spaces or other bytes */
export const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::\d{0,5})?$/

/**
 * A header value without its optional whitespace, which is SP and HTAB only
 * (RFC 9110 §5.6.3): String.prototype.trim() would also strip NBSP and other
 * bytes a strict reader takes as part of the value (`Content-Length: 0<NBSP>`).
 */
export function trimOws (value: string): string {
  // charCodeAt past either end is NaN, not OWS, so each loop stops there; for a value all OWS, end
  // ends before start and slice gives '' (and slice(0, length) is the string itself, not a copy)
  let start = 0
  while (isOws(value.charCodeAt(start))) start++
  let end = value.length
  while (isOws(value.charCodeAt(end - 1))) end--
  return value.slice(start, end)
}

function isOws (code: number): boolean {
  return code === 0x20 || code === 0x09
}

/** The scheme a client reached the balancer by, as X-Forwarded-Proto says it: https over TLS (LB_TLS_CERT). */
export function forwardedProto (socket: Socket | null): 'http' | 'https' {
  return (socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http'
}

/** The options a `Connection` header lists, lower-cased, empty ones dropped. */
export function connectionOptions (value: string): string[] {
  const options: string[] = []
  for (const token of value.toLowerCase().split(',')) {
    const option = trimOws(token)
    if (option !== '') options.push(option)
  }
  return options
}

/** An option that only says whether the connection stays open; any other names a header of this hop. */
export function isPersistenceOption (option: string): boolean {
  return option === 'close' || option === 'keep-alive'
}

/** Whether a request header of the client's is never passed on as it came. */
export function balancerWrites (name: string): boolean {
  return HOP_BY_HOP.has(name) || BALANCER_WRITES.has(name)
}

/** X-Forwarded-For with the client's address appended, as nginx's $proxy_add_x_forwarded_for does. */
export function forwardedFor (prior: string | undefined, client: string | undefined): string | undefined {
  if (client === undefined) return prior
  return prior === undefined || prior === '' ? client : `${prior}, ${client}`
}

type Headers = Record<string, string | string[] | undefined>

/** The header names a `Connection` header lists beyond close and keep-alive: hop-by-hop for that message too. */
function listedInConnection (headers: Headers): Set<string> | undefined {
  const connection = headers.connection
  if (typeof connection !== 'string') return undefined
  return new Set(connectionOptions(connection).filter(option => !isPersistenceOption(option)))
}

/**
 * The headers a replica receives on the undici path: the client's, less
 * hop-by-hop ones and those the balancer writes, with the X-Forwarded trio.
 * `content-length` is recomputed from the body as read, and an `expect:
 * 100-continue` was already answered to the client.
 */
export function upstreamHeaders (request: IncomingMessage | Http2ServerRequest): Record<string, string | string[]> {
  const incoming: IncomingHttpHeaders = request.headers
  const listed = listedInConnection(incoming)
  const out: Record<string, string | string[]> = {}
  for (const name in incoming) {
    const value = incoming[name]
    // an HTTP/2 request's pseudo-headers (:method, :path, :authority, :scheme) are not HTTP/1.1 headers
    if (value === undefined || name.charCodeAt(0) === 58 || balancerWrites(name) || name === 'content-length' || name === 'expect' || listed?.has(name) === true) continue
    out[name] = value
  }
  const prior = incoming['x-forwarded-for']
  const forwarded = forwardedFor(prior === undefined ? undefined : String(prior), request.socket.remoteAddress)
  if (forwarded !== undefined) out['x-forwarded-for'] = forwarded
  // HTTP/2 names the host in :authority (RFC 9113 §8.3.1)
  const host = incoming.host ?? incoming[':authority']
  if (host !== undefined) out['x-forwarded-host'] = host
  out['x-forwarded-proto'] = forwardedProto(request.socket)
  return out
}

/**
 * The headers of an upgrade request to a replica: those of any request, and
 * the two that ask for the upgrade, which are hop-by-hop but must reach the
 * replica for this one exchange (RFC 9110 §7.8), as nginx's documented
 * WebSocket recipe passes them.
 */
export function upgradeHeaders (request: IncomingMessage): Record<string, string | string[]> {
  const out = upstreamHeaders(request)
  out.connection = 'upgrade'
  out.upgrade = request.headers.upgrade ?? ''
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

/** What the undici path forwards of a request Node's parser took: the target in origin-form, or why it is refused (400). */
export type TargetCheck = { path: string } | { refused: string }

/**
 * The checks a request Node's parser took must still pass to be proxied
 * (docs/http-strictness.md), as nginx and HAProxy make them: HTTP/1.1 or 1.0;
 * exactly one Host of uri-host syntax (none only on HTTP/1.0); an origin-form
 * target, or an absolute-form one naming the Host's own authority, rewritten
 * to origin-form (the replica never sees another authority).
 */
export function checkTarget (request: Pick<IncomingMessage, 'url' | 'httpVersion' | 'rawHeaders'>): TargetCheck {
  const { httpVersion, rawHeaders } = request
  // a real HTTP/2 request (over TLS: it has a stream) is framed by its own frames, its target a :path
  // that Node's HTTP/2 server has checked; an HTTP/1 request line that only says HTTP/2.0 is refused below
  if (httpVersion === '2.0' && (request as { stream?: unknown }).stream !== undefined) return request.url?.startsWith('/') === true ? { path: request.url } : { refused: `the request target must be a path: ${JSON.stringify((request.url ?? '').slice(0, 80))}` }
  if (httpVersion !== '1.1' && httpVersion !== '1.0') return { refused: `HTTP/${httpVersion} is not served: HTTP/1.1 or HTTP/1.0 only` }
  let host: string | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== 'host') continue
    if (host !== undefined) return { refused: 'more than one Host header' }
    host = rawHeaders[i + 1]
  }
  if (host === undefined ? httpVersion === '1.1' : !HOST_VALUE.test(host)) return { refused: host === undefined ? 'no Host header' : `malformed Host header: ${JSON.stringify(host.slice(0, 80))}` }
  const url = request.url ?? ''
  if (url.startsWith('/')) return { path: url }
  const absolute = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url)
  if (absolute === null) return { refused: `the request target must be a path (origin-form) or an absolute URL: ${JSON.stringify(url.slice(0, 80))}` }
  const [, authority, rest] = absolute
  if (!HOST_VALUE.test(authority) || (host !== undefined && authority.toLowerCase() !== host.toLowerCase())) return { refused: `the absolute target's authority ${JSON.stringify(authority.slice(0, 80))} is not the Host header's` }
  return { path: rest.startsWith('/') ? rest : `/${rest}` }
}

