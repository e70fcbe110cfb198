/** What a hash scheme needs to know of a replica: its numeric server id and its hostname. */
export interface Member {
  readonly id: number
  readonly hostname: string
}

export type SchemeName = 'maglev' | 'ring' | 'assignment' | 'round-robin'

/** One arc of the key space and the member that owns it, for drawing the ring. */
export interface Arc {
  /** where the arc starts, as a fraction of the key space in [0, 1) */
  start: number
  /** its length, as a fraction of the key space */
  length: number
  hostname: string
}

/**
 * A consistent hash over a changing set of members. `lookup` runs once per proxied request (one
 * call per proxied request); `preference` is the failover order: the owner first,
 * then the other members in the order this scheme would try them.
 */
export interface Ring<T extends Member = Member> {
  readonly scheme: SchemeName
  readonly size: number
  members (): T[]
  has (hostname: string): boolean
  add (member: T): void
  remove (hostname: string): boolean
  lookup (key: number): T | undefined
  preference (key: number, limit?: number): T[]
  arcs (): Arc[]
}

/** Members sorted by numeric id: the order /rep and the admin API show them in. */
export function byId<T extends Member> (members: Iterable<T>): T[] {
  return [...members].sort((a, b) => a.id - b.id)
}

/**
 * Collects distinct members from a sequence of owners, in order, up to `limit`.
 * `ownerAt(i)` gives the owner of the i-th position visited; `positions` bounds the walk.
 */
export function distinctOwners<T extends Member> (ownerAt: (i: number) => T | undefined, positions: number, limit: number): T[] {
  const seen = new Set<T>()
  const out: T[] = []
  for (let i = 0; i < positions && out.length < limit; i++) {
    const owner = ownerAt(i)
    if (owner !== undefined && !seen.has(owner)) {
      seen.add(owner)
      out.push(owner)
    }
  }
  return out
}

/** Turns a table of owners (one per slot) into runs of equal owners, as arcs. */
export function tableArcs (owners: ArrayLike<Member | undefined>): Arc[] {
  const arcs: Arc[] = []
  const n = owners.length
  for (let i = 0; i < n;) {
    const owner = owners[i]
    let j = i + 1
    while (j < n && owners[j] === owner) j++
    if (owner !== undefined) arcs.push({ start: i / n, length: (j - i) / n, hostname: owner.hostname })
    i = j
  }
  return arcs
}
