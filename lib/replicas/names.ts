import { badRequest } from '../errors.js'
import type { ReplicaSpec } from './drivers/driver.js'

/** Replica hostnames are container names: Docker's rule for them. */
export const HOSTNAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$'
const HOSTNAME = new RegExp(HOSTNAME_PATTERN)

export function isValidHostname (name: string): boolean {
  return HOSTNAME.test(name)
}

/** The lowest integers from 0 that are not in `taken`, `count` of them. */
export function lowestFreeIds (taken: Iterable<number>, count: number): number[] {
  const used = new Set(taken)
  const ids: number[] = []
  for (let id = 0; ids.length < count; id++) if (!used.has(id)) ids.push(id)
  return ids
}

/**
 * The generated name for a replica with numeric id `id`: `server-<id>` when
 * that name is free, else `server-<k>` for the lowest k whose name is free.
 */
export function generatedName (id: number, taken: Set<string>): string {
  if (!taken.has(`server-${id}`)) return `server-${id}`
  for (let k = 0; ; k++) if (!taken.has(`server-${k}`)) return `server-${k}`
}

/** The hostnames an admin request gives, checked: valid container names, none twice. Throws the contract's 400. */
export function checkHostnames (hostnames: unknown[]): void {
  const seen = new Set<string>()
  for (const name of hostnames) {
    if (typeof name !== 'string' || !isValidHostname(name)) {
      throw badRequest(`'${String(name)}' is not a valid hostname: use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit`)
    }
    if (seen.has(name)) throw badRequest(`hostname '${name}' is given more than once`)
    seen.add(name)
  }
}

/** Identities for `n` new replicas: the given names first, then generated ones; the lowest ids not taken. */
export function replicaSpecs (n: number, hostnames: string[], takenIds: Iterable<number>, takenNames: Iterable<string>, urls?: string[]): ReplicaSpec[] {
  const taken = new Set([...takenNames, ...hostnames])
  return lowestFreeIds(takenIds, n).map((id, i) => {
    const hostname = hostnames[i] ?? generatedName(id, taken)
    taken.add(hostname)
    return { id, hostname, url: urls?.[i] }
  })
}
