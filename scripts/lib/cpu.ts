import { readFileSync } from 'node:fs'
import { childPids } from './processes.js'

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS = 100

/**
 * CPU time (user + system, ms) a process has used, with its direct children's
 * when asked (nginx's worker under its master). CPU per request is a steadier
 * figure than req/s on a machine other people are loading too.
 */
export function cpuMs (pid: number, withChildren = false): number {
  const pids = withChildren ? [pid, ...childPids(pid)] : [pid]
  return pids.reduce((sum, p) => {
    // fields after the command name, which is in parentheses and may hold spaces
    const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
    return sum + (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS
  }, 0)
}
