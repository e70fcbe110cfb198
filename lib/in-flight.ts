/** Requests in flight per replica hostname: read by bounded loads and by drain. */
export class InFlight {
  private readonly counts = new Map<string, number>()
  total = 0

  inc (hostname: string): void {
    this.counts.set(hostname, (this.counts.get(hostname) ?? 0) + 1)
    this.total++
  }

  dec (hostname: string): void {
    const n = (this.counts.get(hostname) ?? 0) - 1
    if (n > 0) this.counts.set(hostname, n)
    else this.counts.delete(hostname)
    this.total--
  }

  get (hostname: string): number {
    return this.counts.get(hostname) ?? 0
  }
}
