import type { Member, Ring } from './index.js'

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam): no
 * member takes a request while it holds more than `factor` × the average
 * in-flight load; the request goes to the next member in the scheme's
 * preference order instead. With `factor` 0 the owner is always chosen.
 */
export function pickBounded<T extends Member> (ring: Ring<T>, key: number, factor: number, inFlight: (hostname: string) => number, totalInFlight: number): T | undefined {
  if (factor <= 0 || ring.size < 2) return ring.lookup(key)
  const capacity = Math.ceil((factor * (totalInFlight + 1)) / ring.size)
  const candidates = ring.preference(key)
  for (const candidate of candidates) {
    if (inFlight(candidate.hostname) + 1 <= capacity) return candidate
  }
  return candidates[0]
}
