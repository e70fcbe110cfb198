import { type ChildProcess, fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { get } from 'node:https'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../lib/free-port.js'

/** The built app's entries, next to this script's own compiled tree (dist/scripts/lib → dist/), or in dist/ when it runs from source (tests). */
const dist = extname(fileURLToPath(import.meta.url)) === '.ts' ? '../../dist/' : '../../'
export const BALANCER_ENTRY = fileURLToPath(new URL(`${dist}server.js`, import.meta.url))
export const REPLICA_ENTRY = fileURLToPath(new URL(`${dist}replica/server.js`, import.meta.url))

export interface Running {
  child: ChildProcess
  url: string
  port: number
}

/** A replica server (dist/replica/server.js) on a kernel-chosen loopback port. */
export async function startReplica (serverId: number): Promise<Running> {
  return await forkServer(REPLICA_ENTRY, { SERVER_ID: String(serverId), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' })
}

/** A Node server that reports its kernel-chosen port over IPC (`{ port }`), as replicas do. */
export async function forkServer (entry: string, env: Record<string, string>): Promise<Running> {
  const child = fork(entry, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`${entry} exited before listening (code ${code})`)) })
    child.on('message', (message) => {
      const port = (message as { port?: unknown } | null)?.port
      if (typeof port === 'number') resolve(port)
    })
  })
  child.removeAllListeners('exit')
  return { child, port, url: `http://127.0.0.1:${port}` }
}

/**
 * `node dist/server.js` with its own process replicas on a free loopback port,
 * ready once it answers /heartbeat (it listens only after its replicas are up),
 * over TLS when `env` gives it LB_TLS_CERT.
 * It logs to `logFile`, as a service logs to a file or journal: a pipe that
 * this busy script drains late would stall the balancer's synchronous log writes.
 */
export async function startBalancer (env: Record<string, string>, logFile: string, nodeArgs: string[] = []): Promise<Running> {
  const port = await freePort('127.0.0.1')
  // the default log levels (balancer info, replicas warn), as `npm start` runs it, unless `env` says otherwise
  const { LOG_LEVEL: _ignored, ...inherited } = process.env
  const log = openSync(logFile, 'w')
  const child = spawn(process.execPath, [...nodeArgs, BALANCER_ENTRY], {
    env: { ...inherited, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', log, log]
  })
  closeSync(log)
  const secure = env.LB_TLS_CERT !== undefined
  await waitUntilAccepting(child, port, secure, 60_000, async () => await readFile(logFile, 'utf8'))
  return { child, port, url: `${secure ? 'https' : 'http'}://127.0.0.1:${port}` }
}

async function waitUntilAccepting (child: ChildProcess, port: number, secure: boolean, timeoutMs: number, output: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await (secure ? acceptsTls(port) : accepts(port)))) {
    if (child.exitCode !== null) throw new Error(`${String(child.spawnfile)} exited with code ${child.exitCode}: ${(await output()).slice(-2000)}`)
    if (Date.now() > deadline) {
      await stop(child)
      throw new Error(`${String(child.spawnfile)} did not listen on ${port} within ${timeoutMs} ms: ${(await output()).slice(-2000)}`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/**
 * Stops a process this script started, by its PID: `signal` first (a replica
 * forked with an IPC channel is stopped by closing it instead, as the process
 * driver does: it leaves signals to its parent), SIGKILL after `graceMs`.
 */
export async function stop (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  if (child.connected) child.disconnect()
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Spawns a server binary in the foreground (no daemon) and waits until it accepts connections on `port` (over TLS if `secure`). */
export async function startForeground (command: string, args: string[], port: number, secure = false): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { if (stderr.length < 10_000) stderr += chunk.toString() })
  await waitUntilAccepting(child, port, secure, 10_000, async () => stderr)
  return child
}

async function accepts (port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/heartbeat`, { signal: AbortSignal.timeout(500) })
    await response.arrayBuffer()
    return true
  } catch {
    return false
  }
}

/** Whether `port` answers /heartbeat over TLS (the run's own self-signed certificate: not verified). */
async function acceptsTls (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const request = get({ host: '127.0.0.1', port, path: '/heartbeat', rejectUnauthorized: false, timeout: 500 }, response => {
      response.resume()
      response.once('end', () => { resolve(true) })
    })
    request.once('error', () => { resolve(false) })
    request.once('timeout', () => { request.destroy() })
  })
}

/** The replica name a balancer's child process carries (REPLICA_NAME), '' for another child, undefined if it has exited. */
function replicaNameOf (pid: number): string | undefined {
  let environ
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8')
  } catch {
    return undefined
  }
  return environ.split('\0').find(entry => entry.startsWith('REPLICA_NAME='))?.slice('REPLICA_NAME='.length) ?? ''
}

/** A balancer's replica processes and its other children (a cluster's workers). */
export function balancerChildren (pid: number): { replicas: number[], others: number[] } {
  const replicas: number[] = []
  const others: number[] = []
  for (const child of childPids(pid)) {
    const name = replicaNameOf(child)
    if (name === '') others.push(child)
    else if (name !== undefined) replicas.push(child)
  }
  return { replicas, others }
}

/** The PID of a balancer's replica process named `hostname`. */
export function replicaPid (balancerPid: number, hostname: string): number | undefined {
  return childPids(balancerPid).find(child => replicaNameOf(child) === hostname)
}

/** The PIDs of a process's direct children, from /proc (Linux). */
export function childPids (pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap(task =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
}
