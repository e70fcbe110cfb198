import { hashKey, hashWords } from './hash.js'
import { type Arc, type Member, type Ring, byId, distinctOwners } from './ring.js'

const TWO_32 = 0x100000000

/**
 * A ketama-style ring: each member puts `vnodes` points on a 32-bit circle
 * (four points per MD5 digest of `<hostname>-<n>`), a key belongs to the first
 * point at or after its hash. Adding a member only takes keys onto it; removing
 * one only hands its keys to the members that follow its points.
 */
export class KetamaRing<T extends Member = Member> implements Ring<T> {
  readonly scheme = 'ring' as const
  readonly vnodes: number
  private readonly byName = new Map<string, T>()
  private points = new Uint32Array(0)
  private owners: T[] = []

  constructor (options: { vnodes: number }) {
    if (options.vnodes < 4 || options.vnodes % 4 !== 0) throw new Error(`ring vnodes must be a positive multiple of 4, got ${options.vnodes}`)
    this.vnodes = options.vnodes
  }

  get size (): number { return this.byName.size }
  members (): T[] { return byId(this.byName.values()) }
  has (hostname: string): boolean { return this.byName.has(hostname) }

  add (member: T): void {
    if (this.byName.has(member.hostname)) throw new Error(`${member.hostname} is already in the ring`)
    this.byName.set(member.hostname, member)
    this.rebuild()
  }

  remove (hostname: string): boolean {
    if (!this.byName.delete(hostname)) return false
    this.rebuild()
    return true
  }

  /** On an empty ring there is no owner: `firstAtOrAfter` gives 0, and `owners[0]` is undefined. */
  lookup (key: number): T | undefined {
    return this.owners[this.firstAtOrAfter(hashKey(key))]
  }

  preference (key: number, limit = this.byName.size): T[] {
    const n = this.points.length
    const start = this.firstAtOrAfter(hashKey(key))
    return distinctOwners(i => this.owners[(start + i) % n], n, limit)
  }

  arcs (): Arc[] {
    const n = this.points.length
    const arcs: Arc[] = []
    for (let i = 0; i < n; i++) {
      // the arc ending at point i (inclusive) belongs to point i's owner
      const prev = i === 0 ? this.points[n - 1] - TWO_32 : this.points[i - 1]
      arcs.push({ start: ((prev + 1) / TWO_32 + 1) % 1, length: (this.points[i] - prev) / TWO_32, hostname: this.owners[i].hostname })
    }
    return arcs
  }

  /** Index of the first point ≥ h, wrapping to 0 past the last point. */
  private firstAtOrAfter (h: number): number {
    const points = this.points
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (points[mid] < h) lo = mid + 1
      else hi = mid
    }
    return lo === points.length ? 0 : lo
  }

  private rebuild (): void {
    const entries: Array<[number, T]> = []
    // points listed in hostname order, and the sort by point is stable: a tie
    // (vanishingly rare) goes to the lower hostname, so every balancer agrees
    for (const hostname of [...this.byName.keys()].sort()) {
      const member = this.byName.get(hostname) as T
      for (let d = 0; d < this.vnodes / 4; d++) {
        for (const word of hashWords(`${hostname}-${d}`)) entries.push([word, member])
      }
    }
    entries.sort((a, b) => a[0] - b[0])
    this.points = Uint32Array.from(entries, e => e[0])
    this.owners = entries.map(e => e[1])
  }
}
