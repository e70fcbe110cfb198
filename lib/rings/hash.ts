import { createHash } from 'node:crypto'

/** MurmurHash3's 32-bit finaliser: a bijective mixer with full avalanche. */
function fmix32 (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * 32-bit hash of an integer request key (any safe integer, negative included).
 * Both 32-bit halves are mixed so ids above 2^32 spread as well as small ones.
 * This is the per-request hash of the `maglev` and `ring` schemes: cheap, with
 * no allocation, because it runs on every proxied request.
 */
export function hashKey (key: number): number {
  const lo = key >>> 0
  const hi = Math.floor(key / 0x100000000) >>> 0
  return fmix32(lo ^ Math.imul(fmix32(hi ^ 0x9e3779b9), 0xcc9e2d51))
}

/**
 * The string hash that places replicas (by hostname) on the `maglev` table and
 * the `ring`: MD5, as ketama uses, read as four little-endian 32-bit words.
 * Placement runs only when the replica set changes, so its cost does not matter,
 * and every balancer that sees the same hostnames computes the same words.
 */
export function hashWords (text: string): [number, number, number, number] {
  const d = createHash('md5').update(text).digest()
  return [d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]
}

/** FNV-1a, 32 bits: turns a non-numeric request key (a UUID header, say) into an integer key. */
export function hashText (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
