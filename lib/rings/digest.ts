import { createHash } from 'node:crypto'
import type { RingOptions } from './index.js'
import type { Ring } from './ring.js'

/** The settings each scheme's layout depends on: another value of any other setting changes no route. */
function schemeParameters (options: RingOptions): Record<string, number> {
  switch (options.scheme) {
    case 'maglev': return { tableSize: options.tableSize }
    case 'ring': return { vnodes: options.ringVnodes }
    case 'assignment': return { slots: options.slots, vnodes: options.vnodes }
    // no key decides a round-robin route: the members alone tell two such balancers apart
    case 'round-robin': return {}
  }
}

/**
 * A short fingerprint of how a ring routes: its scheme and parameters, its
 * members (id and hostname) by id, and the owner of every arc of the key
 * space. Two balancers show the same digest exactly when they send every
 * key to the same replica; the arcs are included because a scheme's layout
 * may depend on more than the member set (the assignment scheme keeps the
 * slots a member was given as others came and went).
 */
export function ringDigest (ring: Ring, options: RingOptions): string {
  const hash = createHash('sha256')
  hash.update(JSON.stringify({ scheme: ring.scheme, ...schemeParameters(options) }))
  for (const member of ring.members()) hash.update(`\n${member.id} ${member.hostname}`)
  hash.update('\n')
  for (const arc of ring.arcs()) hash.update(`${arc.start} ${arc.hostname};`)
  return hash.digest('hex').slice(0, 16)
}
