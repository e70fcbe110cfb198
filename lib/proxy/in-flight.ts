/** Requests in flight per replica hostname: read by bounded loads and by drain. */
export class InFlight {
  private readonly counts = new Map<string, number>()
  total = 0

  /** called when a hostname's count falls to zero */
  constructor (private readonly onIdle?: (hostname: string) => void) {}

  inc (hostname: string): void {
    this.counts.set(hostname, (this.counts.get(hostname) ?? 0) + 1)
    this.total++
  }

  dec (hostname: string): void {
    const n = (this.counts.get(hostname) ?? 0) - 1
    this.total--
    if (n > 0) {
      this.counts.set(hostname, n)
      return
    }
    this.counts.delete(hostname)
    this.onIdle?.(hostname)
  }

  get (hostname: string): number {
    return this.counts.get(hostname) ?? 0
  }

  entries (): Array<[string, number]> {
    return [...this.counts]
  }
}
