import { hashText } from '../rings/hash.js'
import { DEFAULT_HASH_KEY, type HashKeySource, cookieValue, parseHashKey } from './key-sources.js'

const INTEGER = /^-?\d{1,16}$/

/** Parses a decimal integer that fits in a safe integer, or returns undefined. */
export function parseIntegerId (text: string): number | undefined {
  if (!INTEGER.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}

/** A random 6-digit id, as clients of the original project send. */
export function randomId (): number {
  return 100000 + Math.floor(Math.random() * 900000)
}

/** A source's value as a key: an integer is itself (so `?id=42` and `?key=42` agree), any other text its hash (so UUIDs and names stick too). */
export function keyOfText (text: string): number {
  return parseIntegerId(text) ?? hashText(text)
}

/**
 * What a transport knows of a request that its key may come from. A Fastify
 * request is one as it is; the fast path builds one from the head it parsed.
 */
export interface KeyInputs {
  /** the query string's parameters, parsed (undefined when there is none to read) */
  query: unknown
  /** header values by lower-case name: at least those the key's sources name (and `cookie` for a cookie source) */
  headers: Record<string, string | string[] | undefined>
  /** the request target as sent: path and query */
  url: string
  /** the client's address */
  ip: string | undefined
}

export const DEFAULT_SOURCES: readonly HashKeySource[] = parseHashKey(DEFAULT_HASH_KEY)

function first (value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0]
  return undefined
}

/** A source that reads the request; `random` reads nothing and ends the list. */
type ReadingSource = Exclude<HashKeySource, { kind: 'random' }>

function sourceText (source: ReadingSource, request: KeyInputs): string | undefined {
  switch (source.kind) {
    case 'query': return first((request.query as Record<string, unknown> | undefined)?.[source.name])
    case 'header': return first(request.headers[source.name])
    case 'cookie': {
      const cookies = first(request.headers.cookie)
      return cookies === undefined ? undefined : cookieValue(cookies, source.name)
    }
    case 'path': {
      const q = request.url.indexOf('?')
      return q === -1 ? request.url : request.url.slice(0, q)
    }
    case 'ip': return request.ip
  }
}

/**
 * The key a request is hashed by (LB_HASH_KEY): the first source with a
 * non-empty value, as an integer or the hash of its text; a random 6-digit id
 * when none has one (or at `random`), as Envoy and HAProxy fall back to an
 * unhashed pick. The default, `query:id,header:x-request-id,random`, is the
 * contract's `?id=` first, then X-Request-Id.
 */
export function requestKey (request: KeyInputs, sources: readonly HashKeySource[] = DEFAULT_SOURCES): number {
  for (const source of sources) {
    if (source.kind === 'random') break
    const text = sourceText(source, request)
    if (text !== undefined && text !== '') return keyOfText(text)
  }
  return randomId()
}
