import { type Arc, type Member, type Ring, byId, distinctOwners, tableArcs } from './ring.js'

/** (a * b) mod m without leaving the safe-integer range, for 0 ≤ a, b < m. */
function mulMod (a: number, b: number, m: number): number {
  const p = a * b
  return Number.isSafeInteger(p) ? p % m : Number((BigInt(a) * BigInt(b)) % BigInt(m))
}

/** (a + b) mod m, for 0 ≤ a, b < m: exact even when a + b passes 2^53 (a slot count above 2^52). */
function addMod (a: number, b: number, m: number): number {
  const s = a + b
  return Number.isSafeInteger(s) ? s % m : Number((BigInt(a) + BigInt(b)) % BigInt(m))
}

/** Non-negative remainder, also for negative keys; never leaves [0, m), so never loses precision. */
function mod (n: number, m: number): number {
  const r = n % m
  return r < 0 ? r + m : r
}

/** The textbook request slot H(i) = (i² + 2i + 17) mod slots, computed exactly for any safe integers i and slots. */
export function requestSlot (i: number, slots: number): number {
  const r = mod(i, slots)
  return addMod(addMod(mulMod(r, r, slots), addMod(r, r, slots), slots), mod(17, slots), slots)
}

/** The textbook virtual-server slot Φ(i, j) = (i² + j² + 2j + 25) mod slots, exact as H is. */
export function virtualServerSlot (i: number, j: number, slots: number): number {
  const r = mod(i, slots)
  const s = mod(j, slots)
  const squares = addMod(mulMod(r, r, slots), mulMod(s, s, slots), slots)
  return addMod(squares, addMod(addMod(s, s, slots), mod(25, slots), slots), slots)
}

/**
 * The consistent hash map of the project ringlb grows out of, exactly: `slots`
 * slots, `vnodes` virtual servers per replica placed at Φ(i, j) with linear
 * probing on collision, a request served by the first virtual server clockwise
 * from H(i). The replica number i is the numeric server id.
 *
 * The map changes incrementally: adding a replica only fills free slots and
 * removing one only frees its own, so no other replica's slots move. Members
 * added in ascending id order (as start-up and adoption do) give the same map
 * on every balancer.
 */
export class AssignmentRing<T extends Member = Member> implements Ring<T> {
  readonly scheme = 'assignment' as const
  readonly slots: number
  readonly vnodes: number
  /** which member's virtual server sits in each slot */
  private readonly placed: (T | undefined)[]
  /** the member serving each slot: the first virtual server clockwise from it */
  private served: (T | undefined)[]
  private readonly byName = new Map<string, T>()

  constructor (options: { slots: number, vnodes: number }) {
    this.slots = options.slots
    this.vnodes = options.vnodes
    this.placed = new Array(this.slots).fill(undefined)
    this.served = this.placed.slice()
  }

  get size (): number { return this.byName.size }
  members (): T[] { return byId(this.byName.values()) }
  has (hostname: string): boolean { return this.byName.has(hostname) }

  add (member: T): void {
    if (this.byName.has(member.hostname)) throw new Error(`${member.hostname} is already in the ring`)
    if (this.free() < this.vnodes) throw new Error(`no room for ${this.vnodes} more virtual servers in ${this.slots} slots`)
    for (let j = 0; j < this.vnodes; j++) {
      let slot = virtualServerSlot(member.id, j, this.slots)
      while (this.placed[slot] !== undefined) slot = (slot + 1) % this.slots
      this.placed[slot] = member
    }
    this.byName.set(member.hostname, member)
    this.reindex()
  }

  remove (hostname: string): boolean {
    const member = this.byName.get(hostname)
    if (member === undefined) return false
    for (let s = 0; s < this.slots; s++) if (this.placed[s] === member) this.placed[s] = undefined
    this.byName.delete(hostname)
    this.reindex()
    return true
  }

  /** The slots holding a member's virtual servers, in ascending order. */
  slotsOf (hostname: string): number[] {
    const out: number[] = []
    for (let s = 0; s < this.slots; s++) if (this.placed[s]?.hostname === hostname) out.push(s)
    return out
  }

  lookup (key: number): T | undefined {
    return this.served[requestSlot(key, this.slots)]
  }

  preference (key: number, limit = this.byName.size): T[] {
    const start = requestSlot(key, this.slots)
    return distinctOwners(i => this.placed[(start + i) % this.slots], this.slots, limit)
  }

  arcs (): Arc[] {
    return tableArcs(this.served)
  }

  private free (): number {
    return this.slots - this.byName.size * this.vnodes
  }

  private reindex (): void {
    const served: (T | undefined)[] = new Array(this.slots)
    // walk counter-clockwise once: past the last virtual server a slot wraps to the first one
    let next = this.placed.find(member => member !== undefined)
    for (let s = this.slots - 1; s >= 0; s--) {
      next = this.placed[s] ?? next
      served[s] = next
    }
    this.served = served
  }
}
