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

/** The scheme a client reached the balancer by, as X-Forwarded-Proto says it: https over TLS (LB_TLS_CERT). */
export function forwardedProto (socket: Socket | null): 'http' | 'https' {
  return (socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http'
}

/** The options a `Connection` header lists, lower-cased, empty ones dropped. */
export function connectionOptions (value: string): string[] {
  const options: string[] = []
  for (const token of value.toLowerCase().split(',')) {
    const option = token.trim()
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
  const names = connectionOptions(connection).filter(option => !isPersistenceOption(option))
  return names.length === 0 ? undefined : new Set(names)
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
