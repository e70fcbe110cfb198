import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS = 100

/**
 * CPU time (user + system, ms) a process has used. CPU per request is a
 * steadier figure than req/s on a machine other people are loading too.
 */
export function cpuMs (pid: number): number {
  // fields after the command name, which is in parentheses and may hold spaces
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS
}
