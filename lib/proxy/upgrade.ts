import { type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http'
import type { Socket } from 'node:net'

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
