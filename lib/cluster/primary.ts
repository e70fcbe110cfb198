import cluster, { type Worker } from 'node:cluster'
import { setTimeout as sleep } from 'node:timers/promises'
import { type OwnRoute, type RingChange, type ToPrimary, type ToWorker, isOurs } from './messages.js'
import type { ReplicaHandle } from '../replicas/drivers/driver.js'
import { type WorkerReport, foldReports } from '../metrics/counts.js'
import type { Logger } from '../replicas/replica.js'

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
  on: (event: 'join' | 'leave', listener: (replica: ReplicaHandle & { readonly state: string }) => void) => unknown
  reportFailure: (hostname: string) => void
}

/** A worker that dies within this long of starting (or before it listens) is forked again only after a pause, so a crash loop does not spin. */
const CRASH_WINDOW_MS = 5000
/** The pause after the first such death, doubled at each next one in a row, up to the most. */
const CRASH_PAUSE_MS = 1000
const MAX_CRASH_PAUSE_MS = 30_000
/** How long /stats and /metrics wait for a worker's counts before using the ones it gave last time. */
const REPORT_WAIT_MS = 1000

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
  /** each live worker's last report, by worker id: used when it is slow to answer, folded into `exited` when it dies */
  private readonly lastReports = new Map<number, WorkerReport>()
  /** the counts of workers that have exited, so that the sums never go back */
  private exited: WorkerReport | undefined
  /** folds of exited workers' reports, one after the other */
  private retiring: Promise<void> = Promise.resolve()
  private init: { primary: string, routes: OwnRoute[] } | undefined
  private closing = false
  private replicas: ReplicaSet | undefined
  /** workers in a row that died young */
  private crashes = 0

  constructor (private readonly options: WorkersOptions) {}

  /** Records every ring change of `replicas` from now on (call it before the first replica joins), and reports workers' failed requests to it. */
  follow (replicas: ReplicaSet): void {
    this.replicas = replicas
    replicas.on('join', (replica) => { this.publish({ op: 'add', member: { id: replica.id, hostname: replica.hostname, url: replica.url } }) })
    replicas.on('leave', (replica) => { this.publish({ op: 'remove', hostname: replica.hostname, failed: replica.state === 'failed' }) })
  }

  /** Whether a worker may still have a request in flight to a replica that left the ring. */
  busy (hostname: string): boolean {
    return (this.draining.get(hostname)?.workers.size ?? 0) > 0
  }

  /** Forks the workers; resolves once every one listens. `primary` is where the primary serves the balancer's own routes. */
  async start (primary: string, routes: OwnRoute[]): Promise<void> {
    this.init = { primary, routes }
    cluster.setupPrimary({ exec: this.options.exec })
    await Promise.all(Array.from({ length: this.options.count }, async () => { await this.fork(true) }))
  }

  /**
   * Every live worker's counts (its last ones if it does not answer within a
   * second), and those of the workers that have exited (up to the last counts
   * each sent, at most a few seconds old), marked `exited`.
   */
  async reports (): Promise<WorkerReport[]> {
    const answers = await Promise.all([...this.live].map(async worker => {
      const id = ++this.nextReport
      const answer = new Promise<WorkerReport>(resolve => { this.pendingReports.set(id, resolve) })
      this.send(worker, { type: 'ringlb:report', id })
      await Promise.race([answer, sleep(REPORT_WAIT_MS, undefined, { ref: false })])
      this.pendingReports.delete(id)
      return { worker, report: this.lastReports.get(worker.id) }
    }))
    // a worker that died meanwhile counts once: in `exited`, when its fold is done
    let folding
    do {
      folding = this.retiring
      await folding
    } while (folding !== this.retiring)
    const live = answers.filter(({ worker }) => this.live.has(worker)).map(({ report }) => report)
    return [...live, this.exited].filter(report => report !== undefined)
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

  /**
   * Forks a worker and resolves once it listens. A first worker that dies
   * before listening fails the start (the port is taken, a setting is bad:
   * forking again would fail again); a later one is forked again after a pause.
   */
  private async fork (first = false): Promise<void> {
    if (this.init === undefined || this.closing) return
    const startedAt = Date.now()
    const worker = cluster.fork()
    worker.on('message', (message: unknown) => { if (isOurs<ToPrimary>(message)) this.receive(worker, message) })
    // a message sent just as the worker died: its exit is handled below
    worker.on('error', (err) => { this.options.log.warn({ err, pid: worker.process.pid }, 'worker channel failed') })
    let listened = false
    // why the worker could not listen, when it said (the port is taken): the start-up failure's words
    let listenError: Error | undefined
    worker.on('message', (message: unknown) => {
      if (!isOurs<ToPrimary>(message) || message.type !== 'ringlb:listen-failed') return
      listenError = Object.assign(new Error(message.message), { code: message.code, port: message.port })
    })
    const listening = new Promise<void>((resolve, reject) => {
      worker.once('listening', () => { listened = true; resolve() })
      worker.once('exit', (code, signal) => {
        // told to close before it listened: the balancer is closing, not failing
        if (this.closing) resolve()
        else reject(listenError ?? new Error(`worker ${worker.process.pid} exited before listening (${signal ?? code})`))
      })
    })
    worker.once('exit', (code, signal) => {
      this.live.delete(worker)
      for (const hostname of [...this.draining.keys()]) this.idle(hostname, worker)
      this.retire(worker)
      if (this.closing || (first && !listened)) return
      this.options.log.error({ pid: worker.process.pid, code, signal }, 'worker died: forking another')
      const young = !listened || Date.now() - startedAt < CRASH_WINDOW_MS
      this.crashes = young ? this.crashes + 1 : 0
      const pause = young ? Math.min(MAX_CRASH_PAUSE_MS, CRASH_PAUSE_MS * 2 ** (this.crashes - 1)) : 0
      // a replacement that dies too is forked again by its own exit
      void sleep(pause).then(async () => { await this.fork() }).catch(() => {})
    })
    await listening
  }

  private publish (change: { op: 'add', member: ReplicaHandle } | { op: 'remove', hostname: string, failed: boolean }): void {
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
        if (this.closing) {
          this.send(worker, { type: 'ringlb:close' })
          return
        }
        // IPC keeps order: the log goes first, and every change published after it follows
        this.live.add(worker)
        this.send(worker, { type: 'ringlb:init', ...this.init, changes: [...this.changes] })
        return
      case 'ringlb:failure':
        this.replicas?.reportFailure(message.hostname)
        return
      case 'ringlb:idle':
        if (this.draining.get(message.hostname)?.seq === message.seq) this.idle(message.hostname, worker)
        return
      case 'ringlb:report':
        // asked for, or sent every few seconds: what a worker that dies suddenly leaves behind
        if (this.live.has(worker)) this.lastReports.set(worker.id, message.report)
        this.pendingReports.get(message.id)?.(message.report)
    }
  }

  /** Keeps what a dead worker last reported: its requests still count. */
  private retire (worker: Worker): void {
    const last = this.lastReports.get(worker.id)
    this.lastReports.delete(worker.id)
    if (last === undefined) return
    this.retiring = this.retiring
      .then(async () => { this.exited = await foldReports(this.exited, last) })
      .catch((err: Error) => { this.options.log.warn({ err }, 'an exited worker\'s counts could not be kept') })
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
