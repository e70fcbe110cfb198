import { isValidHostname } from './names.js'
import { badRequest, conflict } from '../errors.js'

/** A server ringlb balances but does not run (LB_DRIVER=static): its name in the ring and its origin. */
export interface Upstream {
  hostname: string
  /** `http://host:port`, normalised (no trailing slash, default port dropped) */
  url: string
}

/**
 * The origin of an upstream's URL, or an Error saying what is wrong with it.
 * Only `http:` origins: the proxy speaks plain HTTP/1.1 to what it balances.
 * A path, query, fragment or credentials would be silently dropped by the
 * proxy, so they are refused rather than ignored.
 */
export function upstreamOrigin (text: string): string | Error {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return new Error(`'${text}' is not a URL: give http://host:port`)
  }
  if (url.protocol !== 'http:') return new Error(`'${text}' is not an http:// URL`)
  if (url.username !== '' || url.password !== '') return new Error(`'${text}' carries credentials: give http://host:port`)
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return new Error(`'${text}' has a path, query or fragment: give http://host:port`)
  return url.origin
}

/**
 * LB_UPSTREAMS: comma-separated `name=http://host:port`, or bare origins,
 * which are named `upstream-0`, `upstream-1`, ... by their position.
 * Throws an Error naming the faulty entry.
 */
export function parseUpstreams (text: string): Upstream[] {
  const upstreams: Upstream[] = []
  const entries = text.split(',').map(entry => entry.trim())
  entries.forEach((entry, i) => {
    if (entry === '') throw new Error(`has an empty entry at position ${i + 1}`)
    const named = /^([^=/:]+)=(.*)$/.exec(entry)
    const hostname = named?.[1] ?? `upstream-${i}`
    if (!isValidHostname(hostname)) throw new Error(`has the name '${hostname}': use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit`)
    const origin = upstreamOrigin(named?.[2] ?? entry)
    if (origin instanceof Error) throw new Error(`has ${origin.message}`)
    if (upstreams.some(u => u.hostname === hostname)) throw new Error(`names '${hostname}' twice`)
    if (upstreams.some(u => u.url === origin)) throw new Error(`lists ${origin} twice`)
    upstreams.push({ hostname, url: origin })
  })
  return upstreams
}

/**
 * The origins of `/add`'s `urls` for n new static servers, checked: one per
 * server, each a valid origin, none given twice or already balanced (under
 * `existing`, by origin). Throws the contract's 400/409 otherwise.
 */
export function newUpstreamOrigins (urls: unknown, n: number, existing: ReadonlyMap<string, string>): string[] {
  if (!Array.isArray(urls)) throw badRequest('urls is required with LB_DRIVER=static: one http://host:port per new server')
  if (urls.length !== n) throw badRequest(`urls has ${urls.length} entries for n=${n}: give one per new server`)
  const origins: string[] = []
  for (const url of urls) {
    const origin = typeof url === 'string' ? upstreamOrigin(url) : new Error(`${JSON.stringify(url)} is not a URL string`)
    if (origin instanceof Error) throw badRequest(origin.message)
    if (origins.includes(origin)) throw badRequest(`${origin} is given more than once`)
    const owner = existing.get(origin)
    if (owner !== undefined) throw conflict(`${origin} is already balanced as '${owner}'`)
    origins.push(origin)
  }
  return origins
}
