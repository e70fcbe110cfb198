import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from './driver.js'

interface Child {
  handle: ReplicaHandle
  child: ChildProcess
  stopping: boolean
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
function replicaEntry (): ReplicaEntry {
  const here = fileURLToPath(import.meta.url)
  if (extname(here) === '.ts') {
    const built = fileURLToPath(new URL('../../../dist/replica/server.js', import.meta.url))
    if (existsSync(built)) return { path: built, execArgv: [] }
  }
  const path = fileURLToPath(new URL(`../../../replica/server${extname(here)}`, import.meta.url))
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
}

/**
 * Replicas as child processes of the balancer on 127.0.0.1. Each child
 * listens on a port the kernel picks and reports it over the IPC channel, so
 * there is no port race; a child exits by itself when that channel closes, so
 * a balancer that dies leaves no replica behind.
 */
export class ProcessDriver implements Driver {
  readonly name = 'process'
  private readonly children = new Map<string, Child>()
  private readonly listeners: Array<(exit: ReplicaExit) => void> = []
  private readonly entry = replicaEntry()

  constructor (private readonly options: ProcessDriverOptions) {}

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    if (this.children.has(spec.hostname)) throw new Error(`a replica named ${spec.hostname} is already running`)
    const child = fork(this.entry.path, [], {
      execArgv: this.entry.execArgv,
      env: { ...process.env, SERVER_ID: String(spec.id), REPLICA_NAME: spec.hostname, PORT: '0', HOST: this.options.host },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    let port: number
    try {
      port = await this.waitForPort(child)
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
    const handle: ReplicaHandle = { ...spec, url: `http://${this.options.host}:${port}` }
    const record: Child = { handle, child, stopping: false }
    this.children.set(spec.hostname, record)
    child.once('exit', (code, signal) => {
      if (this.children.get(spec.hostname) === record) this.children.delete(spec.hostname)
      if (!record.stopping) {
        const exit = { hostname: spec.hostname, reason: signal !== null ? `killed by ${signal}` : `exited with code ${code}` }
        for (const listener of this.listeners) listener(exit)
      }
    })
    return handle
  }

  async remove (hostname: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    const record = this.children.get(hostname)
    if (record === undefined) return
    record.stopping = true
    await this.stop(record.child, force)
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

  /** The PID of a replica's process, for tests and chaos tooling that kill it from outside. */
  pid (hostname: string): number | undefined {
    return this.children.get(hostname)?.child.pid
  }

  private async waitForPort (child: ChildProcess): Promise<number> {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { finish(); reject(new Error(`replica did not start listening within ${this.options.startTimeoutMs} ms`)) }, this.options.startTimeoutMs)
      const onMessage = (message: unknown): void => {
        const port = (message as { port?: unknown } | null)?.port
        if (typeof port === 'number') { finish(); resolve(port) }
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

  private async stop (child: ChildProcess, force: boolean): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    if (force) {
      child.kill('SIGKILL')
    } else {
      // a replica with its IPC channel open leaves SIGINT and SIGTERM to the balancer (replica/server.ts),
      // and closes when the channel does
      if (child.connected) child.disconnect()
      else child.kill('SIGTERM')
      // a frozen (SIGSTOPped) replica must wake up to close
      child.kill('SIGCONT')
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs ?? 5000)
    await exited
    clearTimeout(timer)
  }
}
