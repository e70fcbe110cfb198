import { hashText } from '../rings/hash.js'

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

export interface KeySource {
  query: unknown
  headers: Record<string, string | string[] | undefined>
}

function first (value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0]
  return undefined
}

/**
 * The key a request is hashed by, first found wins: the `id` query parameter
 * when it is an integer, the `x-request-id` header (an integer as itself, any
 * other text by its hash, so UUID request ids stick too), else a random 6-digit
 * id. The one place to add other keys (a cookie, the client address).
 */
export function requestKey (request: KeySource): number {
  const query = request.query as Record<string, unknown> | undefined
  const id = first(query?.id)
  if (id !== undefined) {
    const n = parseIntegerId(id)
    if (n !== undefined) return n
  }
  const header = first(request.headers['x-request-id'])
  if (header !== undefined && header !== '') return parseIntegerId(header) ?? hashText(header)
  return randomId()
}
