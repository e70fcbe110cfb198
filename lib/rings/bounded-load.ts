import type { Member, Ring } from './index.js'

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam): no
 * member takes a request while it holds more than `factor` × the average
 * in-flight load; the request goes to the next member in the scheme's
 * preference order instead, and to the owner when none has room. With
 * `factor` 0 the capacity is 0, so the owner is always chosen; with one
 * member there is no other.
 */
export function pickBounded<T extends Member> (ring: Ring<T>, key: number, factor: number, inFlight: (hostname: string) => number, totalInFlight: number): T | undefined {
  const capacity = Math.ceil((factor * (totalInFlight + 1)) / ring.size)
  const candidates = ring.preference(key)
  return candidates.find(candidate => inFlight(candidate.hostname) + 1 <= capacity) ?? candidates[0]
}
