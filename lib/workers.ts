import cluster, { type Worker } from 'node:cluster'
import { setTimeout as sleep } from 'node:timers/promises'
import { type OwnRoute, type RingChange, type ToPrimary, type ToWorker, type WorkerReport, isOurs } from './cluster-messages.js'
import type { ReplicaHandle } from './drivers/driver.js'
import type { Logger } from './replica-manager.js'

export interface WorkersOptions {
  count: number
  /** the worker's entry script */
  exec: string
  log: Logger
  /** how long close waits for a worker to finish its requests before killing it */
  closeTimeoutMs: number
}

/** The replica set as the primary has it: its ring's changes, in order, and where a worker's failed request is reported. */
interface ReplicaSet {
  on: (event: 'join' | 'leave', listener: (replica: ReplicaHandle) => void) => unknown
  reportFailure: (hostname: string) => void
}

/** A worker that dies within this long of starting is forked again only after a pause, so a crash loop does not spin. */
const CRASH_WINDOW_MS = 5000

/**
 * The primary's side of a clustered balancer (node:cluster): forks the
 * workers that serve the port, sends each the log of every ring change so far
 * and then every new one, forks a new worker when one dies (as nginx's master
 * does), and answers for the workers' in-flight requests when a replica
 * drains and for their counts when /stats or /metrics is read.
 */
export class Workers {
  private readonly changes: RingChange[] = []
  private readonly live = new Set<Worker>()
  /** removed replicas, with the workers that may still have requests in flight to them */
  private readonly draining = new Map<string, { seq: number, workers: Set<number> }>()
  private readonly pendingReports = new Map<number, (report: WorkerReport) => void>()
  private nextReport = 0
  private init: { primary: string, routes: OwnRoute[] } | undefined
  private closing = false
  private replicas: ReplicaSet | undefined

  constructor (private readonly options: WorkersOptions) {}

  /** Records every ring change of `replicas` from now on (call it before the first replica joins), and reports workers' failed requests to it. */
  follow (replicas: ReplicaSet): void {
    this.replicas = replicas
    replicas.on('join', (replica) => { this.publish({ op: 'add', member: { id: replica.id, hostname: replica.hostname, url: replica.url } }) })
    replicas.on('leave', (replica) => { this.publish({ op: 'remove', hostname: replica.hostname }) })
  }

  /** Whether a worker may still have a request in flight to a replica that left the ring. */
  busy (hostname: string): boolean {
    return (this.draining.get(hostname)?.workers.size ?? 0) > 0
  }

  /** Forks the workers; resolves once every one listens. `primary` is where the primary serves the balancer's own routes. */
  async start (primary: string, routes: OwnRoute[]): Promise<void> {
    this.init = { primary, routes }
    cluster.setupPrimary({ exec: this.options.exec })
    await Promise.all(Array.from({ length: this.options.count }, async () => { await this.fork() }))
  }

  /** The counts of every worker that answers within a second. */
  async reports (): Promise<WorkerReport[]> {
    const answers = await Promise.all([...this.live].map(async worker => {
      const id = ++this.nextReport
      const answer = new Promise<WorkerReport>(resolve => { this.pendingReports.set(id, resolve) })
      this.send(worker, { type: 'ringlb:report', id })
      const report = await Promise.race([answer, sleep(1000, undefined, { ref: false })])
      this.pendingReports.delete(id)
      return report
    }))
    return answers.filter(report => report !== undefined)
  }

  /** Asks every worker to stop accepting and finish its requests; kills those still running after the timeout. */
  async close (): Promise<void> {
    this.closing = true
    await Promise.all([...this.live].map(async worker => {
      const exited = new Promise(resolve => worker.once('exit', resolve))
      this.send(worker, { type: 'ringlb:close' })
      const timer = setTimeout(() => { worker.process.kill('SIGKILL') }, this.options.closeTimeoutMs)
      await exited
      clearTimeout(timer)
    }))
  }

  private async fork (): Promise<void> {
    if (this.init === undefined || this.closing) return
    const startedAt = Date.now()
    const worker = cluster.fork()
    worker.on('message', (message: unknown) => { if (isOurs<ToPrimary>(message)) this.receive(worker, message) })
    // a message sent just as the worker died: its exit is handled below
    worker.on('error', (err) => { this.options.log.warn({ err, pid: worker.process.pid }, 'worker channel failed') })
    let listened = false
    const listening = new Promise<void>((resolve, reject) => {
      worker.once('listening', () => { listened = true; resolve() })
      worker.once('exit', (code, signal) => { reject(new Error(`worker ${worker.process.pid} exited before listening (${signal ?? code})`)) })
    })
    worker.once('exit', (code, signal) => {
      this.live.delete(worker)
      for (const hostname of [...this.draining.keys()]) this.idle(hostname, worker)
      // one that never listened (the port is taken, a bad setting) would only fail again: its fork fails instead
      if (this.closing || !listened) return
      this.options.log.error({ pid: worker.process.pid, code, signal }, 'worker died: forking another')
      const pause = Date.now() - startedAt < CRASH_WINDOW_MS ? 1000 : 0
      void sleep(pause).then(async () => { await this.fork() }).catch((err: Error) => { this.options.log.error({ err }, 'worker failed to start') })
    })
    await listening
  }

  private publish (change: { op: 'add', member: ReplicaHandle } | { op: 'remove', hostname: string }): void {
    const numbered = { ...change, seq: this.changes.length + 1 } as RingChange
    this.changes.push(numbered)
    if (numbered.op === 'remove') this.draining.set(numbered.hostname, { seq: numbered.seq, workers: new Set([...this.live].map(w => w.id)) })
    else this.draining.delete(numbered.member.hostname)
    for (const worker of this.live) this.send(worker, { type: 'ringlb:ring', change: numbered })
  }

  private receive (worker: Worker, message: ToPrimary): void {
    switch (message.type) {
      case 'ringlb:hello':
        if (this.init === undefined) return
        // IPC keeps order: the log goes first, and every change published after it follows
        this.live.add(worker)
        this.send(worker, { type: 'ringlb:init', ...this.init, changes: this.changes })
        return
      case 'ringlb:failure':
        this.replicas?.reportFailure(message.hostname)
        return
      case 'ringlb:idle':
        if (this.draining.get(message.hostname)?.seq === message.seq) this.idle(message.hostname, worker)
        return
      case 'ringlb:report':
        this.pendingReports.get(message.id)?.(message.report)
    }
  }

  private idle (hostname: string, worker: Worker): void {
    const entry = this.draining.get(hostname)
    entry?.workers.delete(worker.id)
    if (entry?.workers.size === 0) this.draining.delete(hostname)
  }

  private send (worker: Worker, message: ToWorker): void {
    // a worker that has just died cannot take it, and needs nothing more
    if (worker.isConnected()) worker.send(message)
  }
}
