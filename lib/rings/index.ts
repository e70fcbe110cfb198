import { AssignmentRing } from './assignment.js'
import { KetamaRing } from './ketama.js'
import { MaglevRing } from './maglev.js'
import { RoundRobinRing } from './round-robin.js'
import type { Member, Ring, SchemeName } from './ring.js'

export type { Arc, Member, Ring, SchemeName } from './ring.js'

export interface RingOptions {
  scheme: SchemeName
  /** assignment: slots in the map */
  slots: number
  /** assignment: virtual servers per replica */
  vnodes: number
  /** maglev: prime table size */
  tableSize: number
  /** ring: points per replica */
  ringVnodes: number
}

export function createRing<T extends Member> (options: RingOptions): Ring<T> {
  switch (options.scheme) {
    case 'assignment': return new AssignmentRing<T>({ slots: options.slots, vnodes: options.vnodes })
    case 'maglev': return new MaglevRing<T>({ tableSize: options.tableSize })
    case 'ring': return new KetamaRing<T>({ vnodes: options.ringVnodes })
    case 'round-robin': return new RoundRobinRing<T>()
  }
}
