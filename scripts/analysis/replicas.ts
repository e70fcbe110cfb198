import { spawnSync } from 'node:child_process'
import { replicaPid } from '../lib/processes.js'

/**
 * How the analysis reaches the replicas from outside the balancer, per driver:
 * to kill one and, for containers, to clean up what the run created.
 */
export interface ReplicaControl {
  /** SIGKILLs the replica with this hostname; throws if it cannot be found */
  kill: (hostname: string) => void
  /** removes whatever the driver left behind (containers outlive their balancer) */
  cleanUp: () => void
}

/** Process replicas are the balancer's children, named by REPLICA_NAME in their environment. */
export function processControl (balancerPid: number): ReplicaControl {
  return {
    kill (hostname) {
      const pid = replicaPid(balancerPid, hostname)
      if (pid === undefined) throw new Error(`no replica process named ${hostname} under balancer ${balancerPid}`)
      process.kill(pid, 'SIGKILL')
    },
    cleanUp () {}
  }
}

function docker (args: string[]): string {
  const result = spawnSync('docker', args, { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr || result.error?.message}`)
  return result.stdout.trim()
}

/** Container replicas carry the balancer instance's labels; only those are ever touched. */
export function dockerControl (instance: string): ReplicaControl {
  const own = (extra: string[] = []): string[] => docker(['ps', '-aq', '--filter', `label=ringlb.instance=${instance}`, ...extra]).split('\n').filter(Boolean)
  return {
    kill (hostname) {
      const [id] = own(['--filter', `label=ringlb.hostname=${hostname}`, '--filter', 'status=running'])
      if (id === undefined) throw new Error(`no running container for ${hostname} of instance ${instance}`)
      docker(['kill', '--signal', 'KILL', id])
    },
    cleanUp () {
      const ids = own()
      if (ids.length > 0) docker(['rm', '-f', ...ids])
    }
  }
}
