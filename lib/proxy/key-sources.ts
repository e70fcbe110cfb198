/**
 * LB_HASH_KEY: where a request's key comes from, an ordered list of sources,
 * the first present wins (as Envoy's hash policies and HAProxy's `balance
 * hdr()` / `url_param` choose). Parsed once at start; the per-request part is
 * in request-key.ts.
 */
export type HashKeySource =
  | { kind: 'query', name: string }
  | { kind: 'header', name: string }
  | { kind: 'cookie', name: string }
  | { kind: 'path' }
  | { kind: 'ip' }
  | { kind: 'random' }

export const DEFAULT_HASH_KEY = 'query:id,header:x-request-id,random'

/** RFC 9110's token: what a header name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** a query parameter or cookie name: printable, without the separators that end it */
const NAME = /^[^\s=;&?#%]+$/

function describe (source: HashKeySource): string {
  return 'name' in source ? `${source.kind}:${source.name}` : source.kind
}

/** Parses LB_HASH_KEY; throws an Error naming the faulty entry. Header names are lower-cased, as both transports see them. */
export function parseHashKey (text: string): HashKeySource[] {
  const sources: HashKeySource[] = []
  for (const entry of text.split(',').map(e => e.trim())) {
    if (entry === '') throw new Error('has an empty entry')
    const colon = entry.indexOf(':')
    const kind = colon === -1 ? entry : entry.slice(0, colon)
    const name = colon === -1 ? undefined : entry.slice(colon + 1)
    let source: HashKeySource
    switch (kind) {
      case 'query':
      case 'cookie':
        if (name === undefined || !NAME.test(name)) throw new Error(`has '${entry}': give ${kind}:<name>`)
        source = { kind, name }
        break
      case 'header':
        if (name === undefined || !TOKEN.test(name)) throw new Error(`has '${entry}': give header:<header name>`)
        source = { kind, name: name.toLowerCase() }
        break
      case 'path':
      case 'ip':
      case 'random':
        if (name !== undefined) throw new Error(`has '${entry}': ${kind} takes no name`)
        source = { kind }
        break
      default:
        throw new Error(`has '${entry}': a source is query:<name>, header:<name>, cookie:<name>, path, ip or random`)
    }
    if (sources.some(s => describe(s) === describe(source))) throw new Error(`lists ${describe(source)} twice`)
    if (sources.at(-1)?.kind === 'random') throw new Error(`has ${describe(source)} after random, which always yields a key`)
    sources.push(source)
  }
  return sources
}

/** The header names a key needs read, for a transport that parses headers itself (the fast path). */
export function keyHeaders (sources: readonly HashKeySource[]): Set<string> {
  const names = new Set<string>()
  for (const source of sources) {
    if (source.kind === 'header') names.add(source.name)
    if (source.kind === 'cookie') names.add('cookie')
  }
  return names
}

/** The first cookie named `name` in a Cookie header, or undefined. */
export function cookieValue (header: string, name: string): string | undefined {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
  }
  return undefined
}
