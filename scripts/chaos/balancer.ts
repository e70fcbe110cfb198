import { type ChildProcess, spawn } from 'node:child_process'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { stop } from '../lib/processes.js'

/** The built balancer entry, `dist/server.js`, whether this file runs built (dist/scripts/chaos) or from source (tests). */
const here = fileURLToPath(import.meta.url)
export const serverEntry = fileURLToPath(new URL(extname(here) === '.ts' ? '../../dist/server.js' : '../../server.js', import.meta.url))

export interface ReplicaSet { N: number, replicas: string[] }

/**
 * `node dist/server.js` as a child process on 127.0.0.1, as an operator runs
 * it. Its output is kept (the last lines) so a failed run can show why.
 */
export class BalancerProcess {
  readonly url: string
  private readonly output: string[] = []

  private constructor (readonly child: ChildProcess, readonly port: number) {
    this.url = `http://127.0.0.1:${port}`
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        this.output.push(...chunk.split('\n').filter(line => line !== ''))
        this.output.splice(0, Math.max(0, this.output.length - 200))
      })
    }
  }

  /** Starts the balancer with these settings on top of the environment; PORT 0 picks a free port. */
  static start (env: Record<string, string>, port: number): BalancerProcess {
    const child = spawn(process.execPath, [serverEntry], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    return new BalancerProcess(child, port)
  }

  get pid (): number { return this.child.pid as number }

  /** The last lines the balancer printed. */
  logs (): string[] { return [...this.output] }

  /** GET /rep: the replicas in the ring now. */
  async replicaSet (): Promise<ReplicaSet> {
    const res = await request(`${this.url}/rep`, { headersTimeout: 5000, bodyTimeout: 5000 })
    if (res.statusCode !== 200) throw new Error(`/rep answered ${res.statusCode}`)
    return await res.body.json() as ReplicaSet
  }

  /** Waits until the balancer answers /rep with `target` replicas. */
  async ready (target: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`the balancer exited with code ${this.child.exitCode}:\n${this.logs().join('\n')}`)
      const set = await this.replicaSet().catch(() => undefined)
      if (set?.N === target) return
      await sleep(100)
    }
    throw new Error(`the balancer did not have ${target} replicas within ${timeoutMs} ms:\n${this.logs().join('\n')}`)
  }

  /** SIGTERM, as an operator stops it; resolves with the exit code (SIGKILL after `timeoutMs`). */
  async stop (timeoutMs = 30_000): Promise<number | null> {
    await stop(this.child, 'SIGTERM', timeoutMs)
    return this.child.exitCode
  }
}
