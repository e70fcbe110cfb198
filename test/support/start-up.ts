import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import type { Test } from 'tap'
import { childPids } from '../../scripts/lib/processes.js'

/*
 * What the start-up failure suites share: a real `node dist/server.js`, its
 * stderr, and the check that a failure is one line and a non-zero exit.
 */

export interface Exit { code: number | null, stderr: string, child: ChildProcess }

export function start (t: Test, env: Record<string, string>, args: string[] = []): { child: ChildProcess, exit: Promise<Exit> } {
  const child = spawn(process.execPath, ['dist/server.js', ...args], {
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exit = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr, child }))
  return { child, exit }
}

/** Asserts exactly one line on stderr, matching `line`, and a non-zero exit. */
export async function oneLine (t: Test, exit: Promise<Exit>, line: RegExp): Promise<void> {
  const { code, stderr } = await exit
  t.not(code, 0, 'exits non-zero')
  t.equal(stderr.split('\n').filter(Boolean).length, 1, `one line on stderr: ${JSON.stringify(stderr)}`)
  t.match(stderr, line)
}

/** A process's children; none once it has exited. */
export function safeChildPids (pid: number): number[] {
  try {
    return childPids(pid)
  } catch {
    return []
  }
}
