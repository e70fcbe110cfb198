import { setTimeout as sleep } from 'node:timers/promises'
import type { ReplicaHandle } from './drivers/driver.js'

/** how often a replica out of the ring is probed while its engine restarts it */
const RECOVER_PROBE_MS = 100

/** What the follower reads and sets of a replica (the manager's Replica). */
export interface FollowedReplica extends ReplicaHandle {
  state: 'starting' | 'healthy' | 'draining' | 'failed'
  restarts: number
}

/** What the follower may do to the manager's replica set. */
export interface FollowedSet<R extends FollowedReplica> {
  closed: () => boolean
  get: (hostname: string) => R | undefined
  /** a replica not yet known, out of the ring */
  track: (handle: ReplicaHandle) => R
  join: (replica: R) => void
  leave: (replica: R, reason: string, state: 'failed' | 'draining') => void
  forget: (hostname: string) => void
  respawned: (replica: R) => void
}

/**
 * The manager's side of an engine that restarts replicas itself (Swarm):
 * ringlb only routes. A replica that fails is probed out of the ring until it
 * answers again; a task the engine runs at a new address (restarted, moved,
 * or started by another balancer sharing the engine) joins once it passes a
 * heartbeat, under the same hostname and id; a replica another balancer
 * removes or drains leaves this ring too.
 */
export class EngineFollower<R extends FollowedReplica> {
  private readonly probing = new Set<R>()

  constructor (private readonly set: FollowedSet<R>, private readonly options: { alive: (replica: R) => Promise<boolean>, log: { info: (obj: object, msg?: string) => void } }) {}

  /** Whether a replica is out of the ring, waiting for its engine. */
  recovering (replica: R): boolean {
    return this.probing.has(replica)
  }

  /**
   * The engine runs a replica's task. A replica at a new address is a new
   * object, so that the old address's connections go as it leaves.
   */
  running (handle: ReplicaHandle): void {
    if (this.set.closed()) return
    const known = this.set.get(handle.hostname)
    // a replica still starting or draining belongs to this balancer's /add or /rm
    if (known !== undefined && !this.probing.has(known) && (known.state === 'starting' || known.state === 'draining')) return
    if (known?.url === handle.url && known.id === handle.id) {
      if (known.state === 'failed') this.recover(known)
      return
    }
    if (known !== undefined) this.set.leave(known, 'its task was replaced', 'failed')
    const replica = this.set.track(handle)
    if (known !== undefined) {
      replica.restarts = known.restarts + 1
      this.set.respawned(replica)
    }
    this.recover(replica)
  }

  /** Heartbeats a replica out of the ring until it answers, then puts it back; ends when it is replaced or removed. */
  recover (replica: R): void {
    if (this.probing.has(replica)) return
    this.probing.add(replica)
    replica.state = 'starting'
    const current = (): boolean => !this.set.closed() && this.set.get(replica.hostname) === replica && replica.state === 'starting'
    void (async () => {
      while (current()) {
        if (await this.options.alive(replica)) {
          if (current()) {
            this.set.join(replica)
            this.options.log.info({ replica: replica.hostname, url: replica.url }, 'replica back in the ring')
          }
          break
        }
        await sleep(RECOVER_PROBE_MS)
      }
      this.probing.delete(replica)
    })()
  }

  /** Another balancer removed or is draining a shared replica: out of this ring too. */
  removed (hostname: string, reason: string): void {
    const replica = this.set.get(hostname)
    if (replica === undefined || (replica.state === 'draining' && !this.probing.has(replica))) return
    this.set.leave(replica, reason, 'draining')
    this.set.forget(hostname)
  }
}
