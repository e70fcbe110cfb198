import type { ReplicaHandle } from './driver.js'
import { LABELS } from './docker.js'

/** Set on a replica's service while a balancer drains it, so the others take it out of their rings first. */
export const DRAINING_LABEL = 'ringlb.draining'

/** The fields of a Swarm service the driver reads. */
export interface SwarmService {
  ID: string
  Spec?: { Name?: string, Labels?: Record<string, string> }
}

/** The fields of a Swarm task the driver reads. */
export interface SwarmTask {
  ID: string
  ServiceID: string
  CreatedAt?: string
  DesiredState?: string
  Status?: { State?: string, Err?: string, Message?: string }
  NetworksAttachments?: Array<{ Network?: { ID?: string, Spec?: { Name?: string } }, Addresses?: string[] }>
}

/** One replica's service as the engine shows it now. */
export interface ServiceState {
  serviceId: string
  hostname: string
  id: number
  /** a balancer is draining it: out of every ring */
  draining: boolean
  /** its running task and the overlay address it answers at; none while Swarm (re)starts it */
  task?: { id: string, url: string }
  /** the newest task's state and error, for messages: "pending: no suitable node ..." */
  lastState: string
}

/** Every replica service of one balancer instance, by hostname. */
export type Snapshot = Map<string, ServiceState>

export type SnapshotChange =
  | { kind: 'running', handle: ReplicaHandle }
  | { kind: 'exit', hostname: string, reason: string }
  | { kind: 'removed', hostname: string, reason: string }

/** The address part of an overlay attachment, `10.0.1.5/24` → `10.0.1.5`. */
function overlayAddress (task: SwarmTask, network: string): string | undefined {
  const attachment = task.NetworksAttachments?.find(a => a.Network?.Spec?.Name === network || a.Network?.ID === network)
  return attachment?.Addresses?.[0]?.split('/')[0]
}

/**
 * The replicas as the engine shows them, from one listing of the instance's
 * services and the tasks Swarm wants running. Of several running tasks of one
 * service (a node lost: its task still shows running until the node is marked
 * down), the newest is the one that counts.
 */
export function snapshotOf (services: SwarmService[], tasks: SwarmTask[], options: { network: string, port: number }): Snapshot {
  const snapshot: Snapshot = new Map()
  const byService = new Map<string, SwarmTask[]>()
  for (const task of tasks) {
    if (task.DesiredState !== undefined && task.DesiredState !== 'running') continue
    byService.set(task.ServiceID, [...(byService.get(task.ServiceID) ?? []), task])
  }
  for (const service of services) {
    const labels = service.Spec?.Labels ?? {}
    const hostname = labels[LABELS.hostname]
    const id = Number(labels[LABELS.id])
    if (hostname === undefined || !Number.isInteger(id) || id < 0) continue
    const newestFirst = (byService.get(service.ID) ?? []).sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''))
    const running = newestFirst.find(t => t.Status?.State === 'running' && overlayAddress(t, options.network) !== undefined)
    const newest = newestFirst[0]
    const state: ServiceState = {
      serviceId: service.ID,
      hostname,
      id,
      draining: labels[DRAINING_LABEL] !== undefined,
      lastState: newest === undefined ? 'no task' : `${newest.Status?.State ?? 'unknown'}${newest.Status?.Err === undefined ? '' : `: ${newest.Status.Err}`}`
    }
    if (running !== undefined) state.task = { id: running.ID, url: `http://${overlayAddress(running, options.network) as string}:${options.port}` }
    snapshot.set(hostname, state)
  }
  return snapshot
}

/**
 * What changed between two snapshots, as Traefik's providers diff theirs: a
 * new task running (restarted, moved, or started by another balancer), a task
 * gone with none in its place yet, a service removed or being drained.
 */
export function changes (before: Snapshot, after: Snapshot): SnapshotChange[] {
  const out: SnapshotChange[] = []
  for (const [hostname, old] of before) {
    const now = after.get(hostname)
    if (now === undefined) out.push({ kind: 'removed', hostname, reason: 'its service was removed' })
    else if (now.draining && !old.draining) out.push({ kind: 'removed', hostname, reason: 'another balancer is draining it' })
  }
  for (const [hostname, now] of after) {
    if (now.draining) continue
    const old = before.get(hostname)
    if (now.task !== undefined && (old?.task?.id !== now.task.id || old.draining)) {
      out.push({ kind: 'running', handle: { id: now.id, hostname, url: now.task.url } })
    } else if (now.task === undefined && old?.task !== undefined) {
      out.push({ kind: 'exit', hostname, reason: `its task is not running (${now.lastState})` })
    }
  }
  return out
}
