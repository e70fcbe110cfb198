import { type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { failedAttempt } from './forwarder.js'
import type { ProxiedRequest, ProxyTarget } from './lifecycle.js'
import { Tunnel } from './tunnel.js'

/** What to do with a request that asks for a protocol upgrade. */
export type UpgradeDecision =
  /** tunnel it to the replica that owns its key, as `protocol` */
  | { action: 'tunnel', protocol: string }
  /** answer it with 400: it asks only for protocols the balancer does not tunnel */
  | { action: 'refuse', reason: string }
  /** serve it as a plain HTTP/1.1 request: it asks only for h2c (RFC 9110 §7.8 lets a server ignore Upgrade) */
  | { action: 'ignore' }

/**
 * Reads a request's `Upgrade` header (protocol names, a version after `/`,
 * in the client's order of preference) against LB_UPGRADE_PROTOCOLS. The
 * first listed protocol the client asks for wins. `h2c` is never tunnelled: a
 * request that asks for it alone is served as HTTP/1.1, as nginx and Envoy do,
 * so `curl --http2 http://...` works; a request that asks for anything else
 * unlisted is refused.
 */
export function upgradeDecision (upgrade: string, allowed: readonly string[]): UpgradeDecision {
  const asked = upgrade.split(',').map(p => p.trim().split('/', 1)[0].toLowerCase()).filter(p => p !== '')
  const protocol = asked.find(p => allowed.includes(p))
  if (protocol !== undefined) return { action: 'tunnel', protocol }
  if (asked.length > 0 && asked.every(p => p === 'h2c')) return { action: 'ignore' }
  const listed = allowed.length === 0 ? 'none' : allowed.join(', ')
  return { action: 'refuse', reason: `upgrade to '${upgrade}' is not allowed: LB_UPGRADE_PROTOCOLS lists ${listed}` }
}

/** The replica's answer to an upgrade request: its 101 with the connection, or any other answer. */
export type UpgradeAnswer =
  | { upgraded: true, response: IncomingMessage, socket: Socket, head: Buffer }
  | { upgraded: false, response: IncomingMessage }

/** A replica that sent no answer head in time, as undici names it for every other request. */
export class UpgradeTimeout extends Error {
  readonly code = 'UND_ERR_HEADERS_TIMEOUT'
  constructor (ms: number) {
    super(`no answer to the upgrade within ${ms} ms`)
    this.name = 'UpgradeTimeout'
  }
}

/**
 * Sends an upgrade request to a replica on a connection of its own (a
 * tunnel keeps it), and settles with the replica's answer: its 101 and the
 * connection, or any other answer to pass back. Connection failures reject
 * with Node's error (its `code`: ECONNREFUSED, ...), as a retry needs.
 */
export async function requestUpgrade (origin: string, method: string, path: string, headers: OutgoingHttpHeaders, timeoutMs: number): Promise<UpgradeAnswer> {
  const url = new URL(origin)
  return await new Promise((resolve, reject) => {
    const request = httpRequest({ host: url.hostname, port: url.port, method, path, headers, agent: false, setHost: false })
    const timer = setTimeout(() => { request.destroy(new UpgradeTimeout(timeoutMs)) }, timeoutMs)
    request.once('upgrade', (response, socket, head) => {
      clearTimeout(timer)
      resolve({ upgraded: true, response, socket, head })
    })
    request.once('response', (response) => {
      clearTimeout(timer)
      resolve({ upgraded: false, response })
    })
    request.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    request.end()
  })
}

/** What becomes of an upgrade request, for the transport to write (a tunnel it need not: it is open). */
export interface UpgradeOutcome {
  /** the replica answered other than 101: pass its answer back, then close the client's connection */
  passBack: (response: IncomingMessage, hostname: string) => void
  /** the error answer, in the contract's shape */
  fail: (statusCode: number, message: string, hostname: string) => void
}

export interface UpgradeRequest {
  method: string
  /** path and query, as the client sent them */
  path: string
  /** the headers to send (headers.ts: upgradeHeaders) */
  headers: OutgoingHttpHeaders
  /** the client's connection, and what the client sent after its request head */
  client: Duplex
  head: Buffer
  /** tunnel a WebSocket (close frames), or another listed protocol */
  websocket: boolean
}

export interface TunnelSetting {
  timeoutMs: number
  /** the replica that owns a key on the ring now, by hostname (not the bounded-loads pick) */
  owner: (key: number) => string | undefined
  /** where a tunnel to `hostname` counts the bytes it passes on */
  bytes: (hostname: string) => { toReplica: (bytes: number) => void, toClient: (bytes: number) => void }
  /** the tunnel is open, its 101 passed back */
  opened: (tunnel: Tunnel) => void
}

/**
 * One upgrade request's attempts, decided by the lifecycle like any proxied
 * request's (retry on the next replica when one does not answer, 502/504
 * otherwise): the replica's 101 is passed back with `x-ringlb-replica`, and
 * the two connections are joined in a Tunnel that stays in flight until it
 * closes; any other answer is passed back as it is.
 */
export function openTunnel<R extends ProxyTarget> (proxied: ProxiedRequest<R>, request: UpgradeRequest, setting: TunnelSetting, outcome: UpgradeOutcome): void {
  const { hostname, url } = proxied.replica
  requestUpgrade(url, request.method, request.path, request.headers, setting.timeoutMs).then((answer) => {
    if (request.client.destroyed) {
      (answer.upgraded ? answer.socket : answer.response).destroy()
      proxied.clientGone()
      return
    }
    if (!answer.upgraded) {
      answer.response.once('end', () => { proxied.answered(answer.response.statusCode ?? 502) })
      outcome.passBack(answer.response, hostname)
      return
    }
    const { response, socket, head } = answer
    let lines = 'HTTP/1.1 101 Switching Protocols\r\n'
    for (let i = 0; i < response.rawHeaders.length; i += 2) lines += `${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}\r\n`
    request.client.write(`${lines}x-ringlb-replica: ${hostname}\r\n\r\n`)
    if (head.length > 0) request.client.write(head)
    if (request.head.length > 0) socket.write(request.head)
    proxied.upgraded()
    const tunnel = new Tunnel(request.client, socket, {
      key: proxied.key,
      replica: hostname,
      owner: setting.owner(proxied.key) ?? hostname,
      websocket: request.websocket,
      ...setting.bytes(hostname)
    })
    void tunnel.closed.then(() => { proxied.tunnelClosed() })
    setting.opened(tunnel)
  }, (error: Error) => {
    if (request.client.destroyed) {
      proxied.clientGone()
      return
    }
    const { outcome: next } = failedAttempt(proxied, error)
    if ('retry' in next) {
      openTunnel(proxied, request, setting, outcome)
      return
    }
    outcome.fail(next.statusCode, next.message, proxied.replica.hostname)
  })
}
