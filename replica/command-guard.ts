import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'

/*
 * Runs LB_REPLICA_COMMAND for the process driver, and makes sure it never
 * outlives the balancer. The balancer forks this guard with an IPC channel;
 * the guard runs the command with `/bin/sh -c` in a process group of its own
 * and stops that whole group (SIGTERM, then SIGKILL after the grace time)
 * when the channel closes: when the balancer asks (/rm, shutdown) and when the
 * balancer dies, SIGKILL included, since the kernel closes the channel then.
 * When the command exits by itself, what is left of its group is killed and
 * the guard exits too, which the driver reports as the replica's death.
 *
 * argv: the command, then the grace time in ms. The environment (PORT, HOST,
 * SERVER_ID, REPLICA_NAME, LB_REPLICA_ENV) is the command's.
 */
const [command, graceText] = process.argv.slice(2)
const graceMs = Number(graceText ?? 5000)

// detached: a new session and process group, led by the shell, so one kill reaches every process the command starts
const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'inherit', 'inherit'] })
const group = child.pid
let stopping = false

function signalGroup (signal: NodeJS.Signals | 0): boolean {
  if (group === undefined) return false
  try {
    process.kill(-group, signal)
    return true
  } catch {
    return false
  }
}

/** Asks the whole group to stop, waits for it to be empty up to the grace time, then kills what is left. */
async function stop (): Promise<void> {
  if (stopping) return
  stopping = true
  signalGroup('SIGTERM')
  // a stopped (SIGSTOP) process must wake up to see its SIGTERM
  signalGroup('SIGCONT')
  const deadline = Date.now() + graceMs
  while (signalGroup(0) && Date.now() < deadline) await sleep(25)
  signalGroup('SIGKILL')
  process.exit(0)
}

child.once('spawn', () => { process.send?.({ pid: child.pid }) })
child.once('error', err => {
  console.error(`ringlb: could not run LB_REPLICA_COMMAND: ${err.message}`)
  process.exit(127)
})
child.once('exit', (code, signal) => {
  if (stopping) return
  // the command's leader is gone: the replica is dead, and nothing of it may linger
  signalGroup('SIGKILL')
  process.exitCode = code ?? 128
  const reason = signal !== null ? `killed by ${signal}` : `exited with code ${code ?? 'unknown'}`
  if (process.connected && process.send !== undefined) process.send({ exit: reason }, () => process.exit())
  else process.exit()
})

// as the built-in replica does: the terminal's Ctrl-C reaches the balancer's group, and the balancer decides
process.on('SIGINT', () => {})
process.once('SIGTERM', () => { void stop() })
process.once('disconnect', () => { void stop() })
