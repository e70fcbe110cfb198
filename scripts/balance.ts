/*
 * `npm run balance`: how evenly each hash scheme spreads 10,000 random 6-digit
 * ids over N = 2..8 replicas, how many ids move when a replica is added or
 * removed (against the ideal share), and lookups per second.
 */
import { createRing, type Member, type Ring, type SchemeName } from '../lib/rings/index.js'
import { sixDigitIds } from './ids.js'

const ids = sixDigitIds(10_000, Number(process.argv[2] ?? 42))
const schemes: SchemeName[] = ['assignment', 'maglev', 'ring']

function ringOf (scheme: SchemeName, n: number): Ring {
  const ring = createRing<Member>({ scheme, slots: 512, vnodes: 9, tableSize: 65537, ringVnodes: 160 })
  for (let i = 0; i < n; i++) ring.add({ id: i, hostname: `server-${i}` })
  return ring
}

function owners (ring: Ring): string[] {
  return ids.map(id => ring.lookup(id)?.hostname ?? '')
}

const rows: string[] = []
for (const scheme of schemes) {
  for (let n = 2; n <= 8; n++) {
    const ring = ringOf(scheme, n)
    const before = owners(ring)
    const counts = new Map<string, number>()
    for (const h of before) counts.set(h, (counts.get(h) ?? 0) + 1)
    const loads = [...Array(n).keys()].map(i => counts.get(`server-${i}`) ?? 0)
    const mean = ids.length / n
    ring.add({ id: n, hostname: `server-${n}` })
    const afterAdd = owners(ring)
    const movedAdd = afterAdd.filter((h, i) => h !== before[i]).length
    const grown = ringOf(scheme, n + 1)
    const start = owners(grown)
    grown.remove(`server-${n >> 1}`)
    const afterRemove = owners(grown)
    const movedRemove = afterRemove.filter((h, i) => h !== start[i]).length
    rows.push([
      scheme.padEnd(10), String(n).padStart(2),
      (Math.max(...loads) / mean).toFixed(3).padStart(8), (Math.min(...loads) / mean).toFixed(3).padStart(8),
      (movedAdd / (ids.length / (n + 1))).toFixed(3).padStart(9),
      (movedRemove / (ids.length / (n + 1))).toFixed(3).padStart(9)
    ].join('  '))
  }
}

console.log('10,000 random 6-digit ids; moved = ids that change replica / ideal share (1.000 is the minimum)')
console.log('scheme       N  max/mean  min/mean  moved+1  moved-1')
for (const row of rows) console.log(row)

console.log('\nlookups per second (N=5, 200 rounds over the 10,000 ids):')
for (const scheme of schemes) {
  const ring = ringOf(scheme, 5)
  let sink = 0
  const rounds = 200
  const t0 = process.hrtime.bigint()
  for (let r = 0; r < rounds; r++) for (let i = 0; i < ids.length; i++) sink += ring.lookup(ids[i])?.id ?? 0
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  // the checksum is printed so the lookups cannot be optimised away
  console.log(`${scheme.padEnd(10)}  ${((rounds * ids.length) / seconds / 1e6).toFixed(1)} M/s  (checksum ${sink})`)
}
