import { execFile } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A replica the chaos run can kill, as the operating system or the engine sees it. */
export interface Victim {
  /** the replica's hostname, as /rep shows it */
  hostname: string
  /** the PID or the container id */
  ref: string
}

/** Finds a balancer's replicas from outside the balancer, and kills them hard. */
export interface Victims {
  readonly kind: string
  list: () => Promise<Victim[]>
  kill: (victim: Victim) => Promise<void>
  /** Removes what the run left behind (container replicas are kept when the balancer stops). */
  cleanup: () => Promise<void>
}

/** The parent PID from /proc/<pid>/stat; the command name may hold spaces and parentheses, so read after the last ')'. */
function parentPid (stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/** The process replicas of a balancer: its child processes that carry REPLICA_NAME in their environment. */
export async function processReplicas (balancerPid: number): Promise<Array<Victim & { pid: number, serverId: string }>> {
  const found: Array<Victim & { pid: number, serverId: string }> = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (parentPid(await readFile(`/proc/${entry}/stat`, 'utf8')) !== balancerPid) continue
      const env = new Map((await readFile(`/proc/${entry}/environ`, 'utf8')).split('\0').map(kv => {
        const i = kv.indexOf('=')
        return [kv.slice(0, i), kv.slice(i + 1)] as const
      }))
      const hostname = env.get('REPLICA_NAME')
      if (hostname !== undefined) found.push({ hostname, ref: entry, pid: Number(entry), serverId: env.get('SERVER_ID') ?? '' })
    } catch {
      // the process ended while we looked
    }
  }
  return found.sort((a, b) => a.hostname.localeCompare(b.hostname))
}

/** Whether a process exists (signal 0 checks without sending anything). */
export function pidRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Process driver: SIGKILL a replica process, found as a child of the balancer. */
export function processVictims (balancerPid: number): Victims {
  return {
    kind: 'process',
    list: async () => await processReplicas(balancerPid),
    kill: async (victim) => { process.kill(Number(victim.ref), 'SIGKILL') },
    cleanup: async () => {}
  }
}

const docker = async (...args: string[]): Promise<string> => (await run('docker', args)).stdout.trim()

/** Why the docker chaos run cannot start (no engine, no image), or undefined. */
export async function dockerMissing (image: string): Promise<string | undefined> {
  try {
    await docker('info', '--format', '{{.ServerVersion}}')
  } catch (err) {
    return `no Docker engine: ${(err as Error).message.split('\n')[0]}`
  }
  try {
    await docker('image', 'inspect', '--format', '{{.Id}}', image)
  } catch {
    return `the image ${image} is missing: build it with make build`
  }
  return undefined
}

/** Docker driver: `docker kill` a replica container, found by the balancer instance's label; its hostname is in a label too. */
export function dockerVictims (instance: string): Victims {
  const label = `ringlb.instance=${instance}`
  return {
    kind: 'docker',
    list: async () => {
      const out = await docker('ps', '--filter', `label=${label}`, '--format', '{{.ID}} {{.Label "ringlb.hostname"}}')
      return out === '' ? [] : out.split('\n').map(line => {
        const [ref, hostname] = line.split(' ')
        return { ref, hostname }
      })
    },
    kill: async (victim) => { await docker('kill', '--signal', 'KILL', victim.ref) },
    cleanup: async () => {
      const ids = await docker('ps', '-aq', '--filter', `label=${label}`)
      if (ids !== '') await docker('rm', '-f', ...ids.split('\n'))
    }
  }
}
