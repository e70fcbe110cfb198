import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../free-port.js'
import type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from './driver.js'

interface Child {
  handle: ReplicaHandle
  child: ChildProcess
  /** LB_REPLICA_COMMAND: the command's own process (the shell, or what it exec'd); else the child itself */
  pid: number | undefined
  stopping: boolean
  /** LB_REPLICA_COMMAND: why the command exited, as its guard reported it */
  exitReason?: string
}

interface ReplicaEntry {
  path: string
  /** node flags for the child: none for built JavaScript, the parent's loader flags for TypeScript */
  execArgv: string[]
}

/**
 * The replica program. Built, it sits next to this file's tree. Run from
 * source (the tests, under a TypeScript loader), the built replica is
 * preferred when there is one (`npm test` builds first): it is what production
 * runs, and it starts in a fraction of the time a loader needs to compile it.
 */
function replicaEntry (program: 'server' | 'command-guard'): ReplicaEntry {
  const here = fileURLToPath(import.meta.url)
  if (extname(here) === '.ts') {
    const built = fileURLToPath(new URL(`../../../dist/replica/${program}.js`, import.meta.url))
    if (existsSync(built)) return { path: built, execArgv: [] }
  }
  const path = fileURLToPath(new URL(`../../../replica/${program}${extname(here)}`, import.meta.url))
  if (!existsSync(path)) throw new Error(`replica entry not found at ${path}`)
  return { path, execArgv: process.execArgv }
}

export interface ProcessDriverOptions {
  /** address the replicas listen on */
  host: string
  /** how long a replica may take to start listening */
  startTimeoutMs: number
  /** how long a replica may take to exit after SIGTERM before SIGKILL */
  stopTimeoutMs?: number
  /** LB_REPLICA_COMMAND: a command line to run instead of the built-in replica */
  command?: string
  /** LB_REPLICA_ENV: extra environment for every replica */
  env?: Record<string, string>
}

/**
 * Replicas as child processes of the balancer on 127.0.0.1. Each child
 * listens on a port the kernel picks and reports it over the IPC channel, so
 * there is no port race; a child exits by itself when that channel closes, so
 * a balancer that dies leaves no replica behind.
 *
 * With LB_REPLICA_COMMAND, the child is a guard (replica/command-guard.ts)
 * that runs the command in a process group of its own and stops the group
 * when the channel closes. A command cannot report its port, so the driver
 * picks a free one and hands it over in PORT; the manager's readiness wait
 * finds out when the command listens.
 */
export class ProcessDriver implements Driver {
  readonly name = 'process'
  private readonly children = new Map<string, Child>()
  private readonly listeners: Array<(exit: ReplicaExit) => void> = []
  private readonly entry: ReplicaEntry
  /** ports handed to commands still starting, so two never get the same one */
  private readonly pendingPorts = new Set<number>()

  constructor (private readonly options: ProcessDriverOptions) {
    this.entry = replicaEntry(options.command === undefined ? 'server' : 'command-guard')
  }

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    if (this.children.has(spec.hostname)) throw new Error(`a replica named ${spec.hostname} is already running`)
    const command = this.options.command
    const port = command === undefined ? 0 : await this.reservePort()
    try {
      const child = fork(this.entry.path, command === undefined ? [] : [command, String(this.stopTimeoutMs)], {
        execArgv: this.entry.execArgv,
        env: { ...process.env, ...this.options.env, SERVER_ID: String(spec.id), REPLICA_NAME: spec.hostname, PORT: String(port), HOST: this.options.host },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc']
      })
      let started: { port: number, pid: number | undefined }
      try {
        started = command === undefined ? { port: await this.waitFor(child, 'port'), pid: child.pid } : { port, pid: await this.waitFor(child, 'pid') }
      } catch (err) {
        // a guard asked to stop takes its command's group with it; killed, it would leave the group running
        child.kill(command === undefined ? 'SIGKILL' : 'SIGTERM')
        throw err
      }
      const handle: ReplicaHandle = { id: spec.id, hostname: spec.hostname, url: `http://${this.options.host}:${started.port}` }
      const record: Child = { handle, child, pid: started.pid, stopping: false }
      this.children.set(spec.hostname, record)
      child.on('message', message => {
        const exit = (message as { exit?: unknown } | null)?.exit
        if (typeof exit === 'string') record.exitReason = `the command ${exit}`
      })
      child.once('exit', (code, signal) => {
        if (this.children.get(spec.hostname) === record) this.children.delete(spec.hostname)
        // a guard that was killed itself could not stop its command: what is left of the group goes now
        if (command !== undefined) this.killGroup(record.pid)
        if (!record.stopping) {
          const exit = { hostname: spec.hostname, reason: record.exitReason ?? (signal !== null ? `killed by ${signal}` : `exited with code ${code}`) }
          for (const listener of this.listeners) listener(exit)
        }
      })
      return handle
    } finally {
      this.pendingPorts.delete(port)
    }
  }

  async remove (hostname: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    const record = this.children.get(hostname)
    if (record === undefined) return
    record.stopping = true
    await this.stop(record, force)
    this.children.delete(hostname)
  }

  async list (): Promise<ReplicaHandle[]> {
    return [...this.children.values()].map(c => c.handle)
  }

  onExit (listener: (exit: ReplicaExit) => void): void {
    this.listeners.push(listener)
  }

  /** Process replicas cannot outlive the balancer, so they are always stopped. */
  async close (): Promise<void> {
    await Promise.all([...this.children.keys()].map(async name => await this.remove(name)))
  }

  /** The PID of a replica's process (a command's own, not its guard's), for tests and chaos tooling that kill it from outside. */
  pid (hostname: string): number | undefined {
    return this.children.get(hostname)?.pid
  }

  private get stopTimeoutMs (): number {
    return this.options.stopTimeoutMs ?? 5000
  }

  /** A free port on the replica host that no command of this driver holds or is about to take. */
  private async reservePort (): Promise<number> {
    const taken = new Set([...this.pendingPorts, ...[...this.children.values()].map(c => Number(new URL(c.handle.url).port))])
    for (;;) {
      const port = await freePort(this.options.host)
      if (taken.has(port)) continue
      this.pendingPorts.add(port)
      return port
    }
  }

  /** The first number the child reports under `field`: the built-in replica's port, or the guard's command PID. */
  private async waitFor (child: ChildProcess, field: 'port' | 'pid'): Promise<number> {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { finish(); reject(new Error(`replica did not start listening within ${this.options.startTimeoutMs} ms`)) }, this.options.startTimeoutMs)
      const onMessage = (message: unknown): void => {
        const value = (message as Record<string, unknown> | null)?.[field]
        if (typeof value === 'number') { finish(); resolve(value) }
      }
      const onExit = (code: number | null, signal: string | null): void => { finish(); reject(new Error(`replica exited before listening (${signal ?? `code ${code}`})`)) }
      const onError = (err: Error): void => { finish(); reject(err) }
      const finish = (): void => {
        clearTimeout(timer)
        child.off('message', onMessage).off('exit', onExit).off('error', onError)
      }
      child.on('message', onMessage).once('exit', onExit).once('error', onError)
    })
  }

  private async stop (record: Child, force: boolean): Promise<void> {
    const { child } = record
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    if (force) {
      this.kill(record)
    } else {
      // a replica with its IPC channel open leaves SIGINT and SIGTERM to the balancer (replica/server.ts),
      // and closes when the channel does
      if (child.connected) child.disconnect()
      else child.kill('SIGTERM')
      // a frozen (SIGSTOPped) replica must wake up to close
      child.kill('SIGCONT')
    }
    // a guard gets its command's grace time and a little more to kill the group itself
    const timer = setTimeout(() => { this.kill(record) }, this.stopTimeoutMs + (this.options.command === undefined ? 0 : 2000))
    await exited
    clearTimeout(timer)
  }

  /**
   * SIGKILL for a replica: a command's whole process group first (its guard,
   * killed alone, could not stop it any more), then the child itself.
   */
  private kill (record: Pick<Child, 'child' | 'pid'>): void {
    if (this.options.command !== undefined) this.killGroup(record.pid)
    record.child.kill('SIGKILL')
  }

  /** SIGKILL to a command's process group, led by the shell the guard started; a group already gone is no error. */
  private killGroup (leader: number | undefined): void {
    if (leader === undefined) return
    try {
      process.kill(-leader, 'SIGKILL')
    } catch {}
  }
}
