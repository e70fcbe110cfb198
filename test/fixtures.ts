import type { Member } from '../lib/rings/index.js'

export { sixDigitIds } from '../scripts/ids.js'

/** n members named as the balancer names them, with ids from `from`. */
export function members (n: number, from = 0): Member[] {
  return Array.from({ length: n }, (_, i) => ({ id: from + i, hostname: `server-${from + i}` }))
}
