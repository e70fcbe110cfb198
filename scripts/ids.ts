/** mulberry32: a small seeded generator, so figures come out the same on every run. */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` random 6-digit ids, as clients of the original project send, from a seed. */
export function sixDigitIds (count: number, seed = 42): number[] {
  const next = seeded(seed)
  return Array.from({ length: count }, () => 100000 + Math.floor(next() * 900000))
}
