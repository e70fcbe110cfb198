import { CLOSE_GOING_AWAY, CLOSE_SERVICE_RESTART } from './websocket-frames.js'
import type { Tunnel } from './tunnel.js'

/**
 * A leaving replica's tunnels are closed this long before its drain ends, so
 * that the replica manager, which stops the replica when the drain ends, finds
 * them gone and stops it after the clients have their close frames.
 */
const DRAIN_MARGIN_MS = 250

export interface TunnelsOptions {
  /** the replica that owns `key` on the ring now, by hostname */
  owner: (key: number) => string | undefined
  /** close tunnels whose key moved (LB_CLOSE_MOVED_TUNNELS) */
  closeMoved: boolean
  /** how long a key must have mapped elsewhere before its tunnel is closed (LB_MOVED_TUNNEL_GRACE_MS) */
  graceMs: number
  /** how long a leaving replica's tunnels may stay (LB_DRAIN_MS) */
  drainMs: number
  /** a tunnel closed; `moved` when the balancer closed it because its key moved */
  onClosed: (tunnel: Tunnel, moved: boolean) => void
}

/**
 * The open tunnels, and the rule that they follow the ring. After a ring
 * change, a tunnel whose key now maps to another replica than when it opened
 * is closed once the key has mapped elsewhere for the grace period (a
 * replica that recovers meanwhile keeps its tunnels), with 1012 Service
 * Restart: the replica is not going away, but this connection's service is
 * being restarted elsewhere, and a client that reconnects reaches the key's
 * new owner. A replica's tunnels that are still open when its drain ends, and
 * all tunnels at shutdown, are closed with 1001 Going Away: that end is going away.
 */
export class Tunnels {
  private readonly open = new Set<Tunnel>()
  private readonly moved = new WeakSet<Tunnel>()
  private readonly timers = new Set<NodeJS.Timeout>()

  /** the replica that owns a key now, as the tunnels follow it */
  readonly owner: (key: number) => string | undefined

  constructor (private readonly options: TunnelsOptions) {
    this.owner = options.owner
  }

  get size (): number {
    return this.open.size
  }

  add (tunnel: Tunnel): void {
    this.open.add(tunnel)
    void tunnel.closed.then(() => {
      this.open.delete(tunnel)
      this.options.onClosed(tunnel, this.moved.has(tunnel))
    })
  }

  /** The ring changed: moved keys start their grace period, keys that mapped back end theirs. */
  ringChanged (): void {
    if (!this.options.closeMoved) return
    const now = Date.now()
    let moved = false
    for (const tunnel of this.open) {
      if (this.options.owner(tunnel.key) === tunnel.owner) {
        tunnel.movedSince = undefined
        continue
      }
      tunnel.movedSince ??= now
      moved = true
    }
    if (moved) this.after(this.options.graceMs, () => { this.closeMoved() })
  }

  /**
   * A replica left the ring. Its tunnels' keys map elsewhere now, so with
   * LB_CLOSE_MOVED_TUNNELS they go after the grace period as moved ones; in
   * any case, what is left of them is closed when its drain ends.
   */
  replicaLeft (hostname: string): void {
    this.ringChanged()
    this.after(Math.max(0, this.options.drainMs - DRAIN_MARGIN_MS), () => {
      for (const tunnel of this.open) {
        if (tunnel.replica === hostname) tunnel.close(CLOSE_GOING_AWAY, 'replica removed')
      }
    })
  }

  /** Closes every tunnel (the balancer is shutting down) and forgets its timers. */
  closeAll (): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    for (const tunnel of this.open) tunnel.close(CLOSE_GOING_AWAY, 'balancer shutting down')
  }

  private closeMoved (): void {
    const now = Date.now()
    let waiting: number | undefined
    for (const tunnel of this.open) {
      if (tunnel.movedSince === undefined) continue
      const left = tunnel.movedSince + this.options.graceMs - now
      if (left > 0) {
        waiting = Math.min(waiting ?? left, left)
        continue
      }
      tunnel.movedSince = undefined
      this.open.delete(tunnel)
      this.moved.add(tunnel)
      tunnel.close(CLOSE_SERVICE_RESTART, 'key moved to another replica: reconnect')
    }
    // a timer may fire a millisecond before Date.now() says its time has come: a tunnel not yet due is never left without one
    if (waiting !== undefined) this.after(waiting, () => { this.closeMoved() })
  }

  private after (ms: number, task: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      task()
    }, ms)
    timer.unref()
    this.timers.add(timer)
  }
}
