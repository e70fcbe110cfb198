import { type Arc, type Member, type Ring, byId } from './ring.js'

/**
 * No affinity at all: each lookup takes the next member in turn, whatever the
 * key. It is not a hash, and is here as the baseline the hash schemes are
 * measured against (A-5: a cache farm's hit ratio). A key has no owner, so
 * `/map_request` refuses to name one, and the ring view shows equal shares.
 */
export class RoundRobinRing<T extends Member = Member> implements Ring<T> {
  readonly scheme = 'round-robin' as const
  private list: T[] = []
  private next = 0

  get size (): number { return this.list.length }
  members (): T[] { return [...this.list] }
  has (hostname: string): boolean { return this.list.some(m => m.hostname === hostname) }

  add (member: T): void {
    if (this.has(member.hostname)) throw new Error(`${member.hostname} is already in the ring`)
    this.list = byId([...this.list, member])
  }

  remove (hostname: string): boolean {
    const before = this.list.length
    this.list = this.list.filter(m => m.hostname !== hostname)
    return this.list.length < before
  }

  lookup (): T | undefined {
    if (this.list.length === 0) return undefined
    this.next = (this.next + 1) % this.list.length
    return this.list[this.next]
  }

  /** The next member in turn, then the others after it: a failover tries each once. */
  preference (_key: number, limit = this.list.length): T[] {
    const first = this.lookup()
    if (first === undefined) return []
    const start = this.list.indexOf(first)
    const order: T[] = []
    for (let i = 0; i < Math.min(limit, this.list.length); i++) order.push(this.list[(start + i) % this.list.length])
    return order
  }

  arcs (): Arc[] {
    const n = this.list.length
    return this.list.map((m, i) => ({ start: i / n, length: 1 / n, hostname: m.hostname }))
  }
}
