import { EventEmitter } from 'node:events'
import type { RingChange, ToPrimary } from './messages.js'
import type { ReplicaHandle } from '../replicas/drivers/driver.js'
import { InFlight } from '../proxy/in-flight.js'
import type { Ring } from '../rings/index.js'

/**
 * A cluster worker's view of the replica set: its copy of the primary's ring,
 * changed only by the primary's numbered changes, applied in order; its own
 * in-flight counts; and the way back to the primary for a replica that did
 * not answer and for the end of a removed replica's last requests here (the
 * primary's /rm waits for that from every worker before it stops the replica).
 */
export class RingMirror extends EventEmitter<{ leave: [ReplicaHandle], fail: [ReplicaHandle], join: [ReplicaHandle] }> {
  readonly load = new InFlight(hostname => { this.idle(hostname) })
  /** removed replicas that still have requests in flight here, with the change that removed them */
  private readonly draining = new Map<string, number>()
  private applied = 0

  constructor (readonly ring: Ring<ReplicaHandle>, private readonly send: (message: ToPrimary) => void) {
    super()
  }

  /**
   * Applies the log a new worker starts from. Nothing has been routed yet, so
   * nothing leaves or drains here. Maglev's and ketama's rings depend only on
   * their members, not on the order they came in: those are built once, from
   * the members the log ends with, instead of once per change in it.
   */
  replay (changes: RingChange[]): void {
    if (this.ring.scheme === 'assignment') {
      for (const change of changes) this.step(change)
      return
    }
    const members = new Map<string, ReplicaHandle>()
    for (const change of changes) {
      this.check(change)
      if (change.op === 'remove') members.delete(change.hostname)
      else if (!members.has(change.member.hostname)) members.set(change.member.hostname, change.member)
    }
    for (const member of members.values()) this.ring.add(member)
  }

  /** Applies the primary's next change, as the primary applied it to its own ring. */
  apply (change: RingChange): void {
    const removed = this.step(change)
    if (change.op === 'add') this.emit('join', change.member)
    if (removed === undefined) return
    this.emit('leave', removed)
    if (change.op === 'remove' && change.failed === true) this.emit('fail', removed)
    this.draining.set(removed.hostname, change.seq)
    if (this.load.get(removed.hostname) === 0) this.idle(removed.hostname)
  }

  reportFailure (hostname: string): void {
    this.send({ type: 'ringlb:failure', hostname })
  }

  /** Changes the ring; returns the member a remove took out. */
  private step (change: RingChange): ReplicaHandle | undefined {
    this.check(change)
    if (change.op === 'add') {
      this.draining.delete(change.member.hostname)
      if (!this.ring.has(change.member.hostname)) this.ring.add(change.member)
      return undefined
    }
    const member = this.ring.members().find(m => m.hostname === change.hostname)
    return member !== undefined && this.ring.remove(change.hostname) ? member : undefined
  }

  private check (change: RingChange): void {
    if (change.seq !== this.applied + 1) throw new Error(`ring change ${change.seq} arrived after ${this.applied}: the copy would differ`)
    this.applied = change.seq
  }

  private idle (hostname: string): void {
    const seq = this.draining.get(hostname)
    if (seq === undefined) return
    this.draining.delete(hostname)
    this.send({ type: 'ringlb:idle', hostname, seq })
  }
}
