import { AssignmentRing, requestSlot, virtualServerSlot } from '../../lib/rings/assignment.js'
import type { Member } from '../../lib/rings/index.js'

export interface TextbookFacts {
  slots: number
  vnodes: number
  /** the distinct request slots H(i) can produce, in ascending order */
  reachable: number[]
  /** for N = 3: each replica's virtual-server slots (after probing) */
  placement: Array<{ hostname: string, slots: number[] }>
  /** for N = 3: how many reachable slots each replica serves, and its exact share of all 900,000 6-digit ids */
  owners: Array<{ hostname: string, reachableSlots: number, share: number }>
  /** the first and last slot holding any virtual server at N = 3 */
  span: [number, number]
}

/**
 * Why the textbook map piles requests onto one replica, computed rather than
 * asserted: where Φ puts the virtual servers, which slots H can reach at all,
 * and who serves those slots.
 */
export function textbookFacts (slots = 512, vnodes = 9, n = 3): TextbookFacts {
  // H depends on i only through i mod slots, so the residues give every slot it can reach
  const reachable = [...new Set(Array.from({ length: slots }, (_, r) => requestSlot(r, slots)))].sort((a, b) => a - b)
  const ring = new AssignmentRing<Member>({ slots, vnodes })
  const members = Array.from({ length: n }, (_, id) => ({ id, hostname: `server-${id}` }))
  for (const member of members) ring.add(member)
  const placement = members.map(m => ({ hostname: m.hostname, slots: ring.slotsOf(m.hostname) }))
  const all = placement.flatMap(p => p.slots)
  const served = new Map<string, number>()
  for (const slot of reachable) {
    // any id whose residue gives this slot is served like the slot itself
    const residue = Array.from({ length: slots }, (_, r) => r).find(r => requestSlot(r, slots) === slot) as number
    const owner = ring.lookup(residue)?.hostname ?? ''
    served.set(owner, (served.get(owner) ?? 0) + 1)
  }
  const ids = new Map<string, number>()
  for (let id = 100000; id <= 999999; id++) {
    const owner = ring.lookup(id)?.hostname ?? ''
    ids.set(owner, (ids.get(owner) ?? 0) + 1)
  }
  return {
    slots,
    vnodes,
    reachable,
    placement,
    owners: members.map(m => ({ hostname: m.hostname, reachableSlots: served.get(m.hostname) ?? 0, share: (ids.get(m.hostname) ?? 0) / 900000 })),
    span: [Math.min(...all), Math.max(...all)]
  }
}

/** Φ(i, j) before probing, for the report's formula table. */
export function rawPlacement (i: number, vnodes = 9, slots = 512): number[] {
  return Array.from({ length: vnodes }, (_, j) => virtualServerSlot(i, j, slots))
}
