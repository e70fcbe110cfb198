import { EventEmitter } from 'node:events'
import type { RingChange, ToPrimary } from './cluster-messages.js'
import type { ReplicaHandle } from './drivers/driver.js'
import { InFlight } from './in-flight.js'
import type { Ring } from './rings/index.js'

/**
 * A cluster worker's view of the replica set: its copy of the primary's ring,
 * changed only by the primary's numbered changes, applied in order; its own
 * in-flight counts; and the way back to the primary for a replica that did
 * not answer and for the end of a removed replica's last requests here (the
 * primary's /rm waits for that from every worker before it stops the replica).
 */
export class RingMirror extends EventEmitter<{ leave: [ReplicaHandle] }> {
  readonly load = new InFlight(hostname => { this.idle(hostname) })
  /** removed replicas that still have requests in flight here, with the change that removed them */
  private readonly draining = new Map<string, number>()
  private applied = 0

  constructor (readonly ring: Ring<ReplicaHandle>, private readonly send: (message: ToPrimary) => void) {
    super()
  }

  /** Applies the primary's next change, as the primary applied it to its own ring. */
  apply (change: RingChange): void {
    if (change.seq !== this.applied + 1) throw new Error(`ring change ${change.seq} arrived after ${this.applied}: the copy would differ`)
    this.applied = change.seq
    if (change.op === 'add') {
      this.draining.delete(change.member.hostname)
      if (!this.ring.has(change.member.hostname)) this.ring.add(change.member)
      return
    }
    const member = this.ring.members().find(m => m.hostname === change.hostname)
    if (member === undefined || !this.ring.remove(change.hostname)) return
    this.emit('leave', member)
    this.draining.set(change.hostname, change.seq)
    if (this.load.get(change.hostname) === 0) this.idle(change.hostname)
  }

  reportFailure (hostname: string): void {
    this.send({ type: 'ringlb:failure', hostname })
  }

  private idle (hostname: string): void {
    const seq = this.draining.get(hostname)
    if (seq === undefined) return
    this.draining.delete(hostname)
    this.send({ type: 'ringlb:idle', hostname, seq })
  }
}
