import { LbError } from '../../errors.js'

/** What the manager asks a driver to start: the replica's identity. */
export interface ReplicaSpec {
  /** numeric server id, the replica's SERVER_ID */
  readonly id: number
  /** hostname: the container name, or the process's name */
  readonly hostname: string
  /** an external driver's server: its origin, given by the admin (`/add` with `urls`) */
  readonly url?: string
}

/** A running replica as its driver knows it. */
export interface ReplicaHandle extends ReplicaSpec {
  /** origin the balancer sends requests to, e.g. http://127.0.0.1:40123 */
  readonly url: string
}

/** Why a driver reports a replica as gone. */
export interface ReplicaExit {
  hostname: string
  reason: string
}

/**
 * The engine refused a replica's identity: another balancer sharing the
 * engine holds its hostname or its numeric id already. The engine arbitrates
 * (names are unique there), so two balancers adding at once never both win;
 * the loser picks another identity when it chose this one itself.
 */
export class IdentityTaken extends LbError {
  constructor (readonly spec: ReplicaSpec, what: 'hostname' | 'id', options?: { cause?: unknown }) {
    super(409, what === 'hostname'
      ? `a replica named '${spec.hostname}' already exists`
      : `replica id ${spec.id} is held by another balancer of this instance`, options)
  }
}

/**
 * What a driver whose engine restarts replicas itself reports as it follows
 * the engine: replicas running (again, at a new address, or started by another
 * balancer sharing the engine) and replicas removed by someone else.
 */
export interface EngineWatch {
  /** a replica's task runs at `handle.url`: new, back after a restart, or moved */
  running: (handle: ReplicaHandle) => void
  /** a replica was removed, or is being drained, by another balancer */
  removed: (hostname: string, reason: string) => void
}

/**
 * A way to run replicas: local processes, Docker containers. The manager owns
 * naming, health and the ring; a driver only starts, stops, lists and reports
 * deaths of the replicas it started itself.
 */
export interface Driver {
  readonly name: string
  /**
   * True when the servers run elsewhere (LB_DRIVER=static): the driver only
   * names them, and the manager never starts, stops or replaces one; a failed
   * one is probed until it answers again.
   */
  readonly external?: boolean
  /** Starts a replica and resolves once it is listening (not yet health-checked). A failure leaves nothing behind. */
  create (spec: ReplicaSpec): Promise<ReplicaHandle>
  /**
   * Stops and removes a replica this driver started. Resolves when it is gone; a replica already gone is not an error.
   * With `force`, it is killed at once instead of asked to stop: a failed replica may be hung and has nothing left to finish.
   */
  remove (hostname: string, options?: { force?: boolean }): Promise<void>
  /** The replicas this driver started that are running now (adopted at start-up). */
  list (): Promise<ReplicaHandle[]>
  /** Called when a replica stops without being asked to. */
  onExit (listener: (exit: ReplicaExit) => void): void
  /**
   * The engine restarts a dead replica itself (Swarm): the manager takes it
   * out of the ring and waits for `watch.running`, and never creates a
   * replacement of its own, which would race the engine's.
   */
  readonly restartsReplicas?: boolean
  /** Follows the engine's replicas, for drivers whose engine restarts them; starts after the manager's adoption. */
  watch?: (listener: EngineWatch) => void
  /** Tells the others sharing the engine that this replica is leaving, before it drains. */
  markDraining?: (hostname: string) => Promise<void>
  /** Releases the driver; with `keepReplicas` false, its replicas are stopped too. */
  close (options: { keepReplicas: boolean }): Promise<void>
}
