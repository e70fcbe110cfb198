import { type ChildProcess, fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

/** The built app's entries, next to this script's own compiled tree (dist/scripts/lib → dist/). */
export const BALANCER_ENTRY = fileURLToPath(new URL('../../server.js', import.meta.url))
export const REPLICA_ENTRY = fileURLToPath(new URL('../../replica/server.js', import.meta.url))

/** A free loopback port from the kernel, for servers (nginx, HAProxy) that cannot report the one they bound. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address !== 'object') throw new Error('no port from the kernel')
  return address.port
}

export interface Running {
  child: ChildProcess
  url: string
  port: number
}

/** A replica server (dist/replica/server.js) on a kernel-chosen loopback port, which it reports over IPC. */
export async function startReplica (serverId: number): Promise<Running> {
  const child = fork(REPLICA_ENTRY, [], {
    env: { ...process.env, SERVER_ID: String(serverId), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`replica ${serverId} exited before listening (code ${code})`)) })
    child.on('message', (message) => {
      const port = (message as { port?: unknown } | null)?.port
      if (typeof port === 'number') resolve(port)
    })
  })
  child.removeAllListeners('exit')
  return { child, port, url: `http://127.0.0.1:${port}` }
}

/**
 * `node dist/server.js` on a kernel-chosen loopback port, with its own process
 * replicas. The port is read from Fastify's "Server listening at" log line.
 */
export async function startBalancer (env: Record<string, string>, nodeArgs: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [...nodeArgs, BALANCER_ENTRY], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const port = await new Promise<number>((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => { reject(new Error(`balancer did not listen within 60 s; output: ${seen.slice(-2000)}`)) }, 60_000)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`balancer exited before listening (code ${code}): ${seen.slice(-2000)}`)) })
    child.stdout?.on('data', (chunk: Buffer) => {
      if (seen.length < 100_000) seen += chunk.toString()
      const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(seen)
      if (match !== null) {
        clearTimeout(timer)
        // from here on its log is not needed, but the pipe must keep draining
        child.stdout?.removeAllListeners('data')
        child.stdout?.resume()
        seen = ''
        resolve(Number(match[1]))
      }
    })
  })
  child.removeAllListeners('exit')
  return { child, port, url: `http://127.0.0.1:${port}` }
}

/** Stops a process this script started, by its PID: `signal` first, SIGKILL after `graceMs`. */
export async function stop (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Spawns a server binary in the foreground (no daemon) and waits until it accepts connections on `port`. */
export async function startForeground (command: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { if (stderr.length < 10_000) stderr += chunk.toString() })
  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`${command} exited with code ${child.exitCode}: ${stderr}`)
    if (Date.now() > deadline) {
      await stop(child)
      throw new Error(`${command} did not listen on ${port} within 10 s: ${stderr}`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
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
