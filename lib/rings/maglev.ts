import { hashKey, hashWords } from './hash.js'
import { type Arc, type Member, type Ring, byId, distinctOwners, tableArcs } from './ring.js'

export function isPrime (n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false
  return true
}

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016). Each member gets a permutation
 * of the table's slots from its hostname's hash (offset, skip); members take
 * turns claiming their next preferred free slot until the table is full. The
 * table size is prime so every skip visits every slot. Members are filled in
 * hostname order, so balancers that see the same set build the same table.
 */
export class MaglevRing<T extends Member = Member> implements Ring<T> {
  readonly scheme = 'maglev' as const
  readonly tableSize: number
  private readonly byName = new Map<string, T>()
  private table: (T | undefined)[]

  constructor (options: { tableSize: number }) {
    if (!isPrime(options.tableSize)) throw new Error(`maglev table size must be prime, got ${options.tableSize}`)
    this.tableSize = options.tableSize
    this.table = []
  }

  get size (): number { return this.byName.size }
  members (): T[] { return byId(this.byName.values()) }
  has (hostname: string): boolean { return this.byName.has(hostname) }

  add (member: T): void {
    if (this.byName.has(member.hostname)) throw new Error(`${member.hostname} is already in the ring`)
    if (this.byName.size >= this.tableSize) throw new Error('maglev table is smaller than the member count')
    this.byName.set(member.hostname, member)
    this.populate()
  }

  remove (hostname: string): boolean {
    if (!this.byName.delete(hostname)) return false
    this.populate()
    return true
  }

  lookup (key: number): T | undefined {
    return this.table[hashKey(key) % this.tableSize]
  }

  /** The owner, then the next distinct owners met walking the table onward from the key's slot. */
  preference (key: number, limit = this.byName.size): T[] {
    const start = hashKey(key) % this.tableSize
    return distinctOwners(i => this.table[(start + i) % this.tableSize], this.tableSize, limit)
  }

  arcs (): Arc[] {
    return tableArcs(this.table)
  }

  private populate (): void {
    const m = this.tableSize
    // hostname order: the default sort compares UTF-16 code units, the same on every balancer
    const members = [...this.byName.keys()].sort().map(hostname => this.byName.get(hostname) as T)
    const table: (T | undefined)[] = new Array(m).fill(undefined)
    if (members.length > 0) {
      const position = new Float64Array(members.length)
      const skip = new Float64Array(members.length)
      members.forEach((member, i) => {
        const [h1, h2] = hashWords(member.hostname)
        position[i] = h1 % m
        skip[i] = (h2 % (m - 1)) + 1
      })
      let filled = 0
      while (filled < m) {
        for (let i = 0; i < members.length && filled < m; i++) {
          let c = position[i]
          while (table[c] !== undefined) c = (c + skip[i]) % m
          table[c] = members[i]
          position[i] = (c + skip[i]) % m
          filled++
        }
      }
    }
    this.table = table
  }
}
