import { loadConfig, ringOptions } from '../lib/config.js'
import { hashKey, hashText, hashWords } from '../lib/rings/hash.js'
import { requestKey } from '../lib/proxy/request-key.js'
import { requestSlot, virtualServerSlot } from '../lib/rings/assignment.js'
import { createRing, type Member, type RingOptions, type SchemeName } from '../lib/rings/index.js'
import { seeded, sixDigitIds } from './ids.js'

/*
 * The golden mappings: which replica every scheme picks for fixed keys, and
 * the known-answer values of every hash function. `test/rings/golden.test.ts` checks
 * the committed tables in test/rings/golden/ against the code; `npm run
 * golden:update` rewrites them, and only on purpose (see CHANGELOG.md).
 */

export const SCHEMES: SchemeName[] = ['maglev', 'ring', 'assignment']
export const SIZES = [3, 4, 5, 6]
/** The replica set at size N is the first N of these, with ids 0..N-1: the names the balancer generates. */
export const HOSTNAMES = ['server-0', 'server-1', 'server-2', 'server-3', 'server-4', 'server-5']
/** How many ids get their whole preference order (the failover order) recorded, at N = 6. */
export const PREFERENCE_IDS = 50

export interface GoldenInputs {
  /** integer request keys: the `id` query parameter or an integer `x-request-id` */
  ids: number[]
  /** text request keys: a non-integer `x-request-id`, hashed */
  textKeys: string[]
}

export interface SchemeTable {
  scheme: SchemeName
  options: RingOptions
  hostnames: string[]
  columns: string[]
  /** [id, owner at N=3, N=4, N=5, N=6] */
  ids: Array<[number, ...string[]]>
  /** [text key, owner at N=3, N=4, N=5, N=6] */
  textKeys: Array<[string, ...string[]]>
  /** [id, every replica in failover order at N=6] */
  preference: Array<[number, string[]]>
}

export interface HashTable {
  hashKey: Array<[number, number]>
  hashText: Array<[string, number]>
  hashWords: Array<[string, [number, number, number, number]]>
  /** assignment's H(i) over 512 slots */
  requestSlot: Array<[number, number]>
  /** assignment's Φ(i, j) over 512 slots */
  virtualServerSlot: Array<[number, number, number]>
}

const TWO_32 = 2 ** 32

/** Ids at the edges of the hash's two 32-bit halves, and pairs that differ only above bit 32. */
function edgeIds (): number[] {
  const edges = [0, 1, 2, 17, -1, -2, -17, 2 ** 31 - 1, 2 ** 31, TWO_32 - 1, TWO_32, TWO_32 + 1, -TWO_32, -(TWO_32 + 1),
    2 ** 40, 2 ** 40 + 7, 2 ** 52, 2 ** 53 - 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 999_999_999_999, 999_999_999_999_999]
  for (let k = 1; k <= 8; k++) edges.push(123456 + k * TWO_32, -123456 - k * TWO_32)
  return edges
}

/** 1,000 distinct ids: the edges, 150 ids spread over the whole safe range, and 6-digit ids as clients send. */
export function goldenIds (): number[] {
  const ids = new Set(edgeIds())
  const next = seeded(7)
  while (ids.size < 200) ids.add(Math.floor((next() - 0.5) * 2 * Number.MAX_SAFE_INTEGER))
  for (const id of sixDigitIds(2000)) if (ids.size < 1000) ids.add(id)
  return [...ids]
}

/** 200 distinct text keys: UUID-shaped request ids, and texts near the integer parser's edges. */
export function goldenTextKeys (): string[] {
  const keys = new Set(['a', 'alice', 'user:42', 'bob@example.com', '12345678901234567', '+5', '1.5', '0x10', ' 7', '7 ',
    '1e3', '--1', 'caf\u00e9', 'x'.repeat(200), 'server-0', 'ID-000001', '-', 'null', 'undefined', 'NaN'])
  const next = seeded(11)
  const hex = (digits: number): string => Array.from({ length: digits }, () => Math.floor(next() * 16).toString(16)).join('')
  while (keys.size < 200) keys.add(`${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(next() * 4)]}${hex(3)}-${hex(12)}`)
  return [...keys]
}

export function goldenInputs (): GoldenInputs {
  return { ids: goldenIds(), textKeys: goldenTextKeys() }
}

/** The ring options a balancer runs with when only LB_HASH is set. */
export function defaultOptions (scheme: SchemeName): RingOptions {
  return ringOptions(loadConfig({ LB_HASH: scheme }))
}

/** The integer a text `x-request-id` is hashed to, as the proxy computes it. */
export function textKeyOf (text: string): number {
  return requestKey({ query: {}, headers: { 'x-request-id': text }, url: '/', ip: undefined })
}

/** The scheme's table for the given inputs: what `test/rings/golden.test.ts` compares with the committed one. */
export function schemeTable (options: RingOptions, hostnames: string[], inputs: GoldenInputs): SchemeTable {
  const keys = [...inputs.ids, ...inputs.textKeys.map(textKeyOf)]
  // one ring grown replica by replica, read at each size: the same ring as one built at that size
  const ring = createRing<Member>(options)
  const columns: string[][] = []
  for (let id = 0; id < SIZES[SIZES.length - 1]; id++) {
    ring.add({ id, hostname: hostnames[id] })
    if (SIZES.includes(ring.size)) columns.push(keys.map(key => ring.lookup(key)?.hostname ?? ''))
  }
  const ownersOf = (k: number): string[] => columns.map(column => column[k])
  const ids = inputs.ids.length
  return {
    scheme: options.scheme,
    options,
    hostnames,
    columns: ['key', ...SIZES.map(n => `N=${n}`)],
    ids: inputs.ids.map((id, k) => [id, ...ownersOf(k)]),
    textKeys: inputs.textKeys.map((text, k) => [text, ...ownersOf(ids + k)]),
    preference: inputs.ids.filter((_, i) => i % (inputs.ids.length / PREFERENCE_IDS) === 0).map(id => [id, ring.preference(id).map(m => m.hostname)])
  }
}

export function hashTable (inputs: GoldenInputs): HashTable {
  const ids = inputs.ids.slice(0, 100)
  const texts = ['', 'a', 'foobar', ...inputs.textKeys.slice(0, 30)]
  const words = ['', 'a', ...HOSTNAMES, ...HOSTNAMES.flatMap(h => [0, 1, 2, 39].map(d => `${h}-${d}`))]
  const pairs: Array<[number, number]> = []
  for (const i of [0, 1, 2, 5, 31, 49, 511, 512, 1000, -3]) for (const j of [0, 1, 8, 100]) pairs.push([i, j])
  return {
    hashKey: ids.map(id => [id, hashKey(id)]),
    hashText: texts.map(text => [text, hashText(text)]),
    hashWords: words.map(text => [text, hashWords(text)]),
    requestSlot: ids.map(id => [id, requestSlot(id, 512)]),
    virtualServerSlot: pairs.map(([i, j]) => [i, j, virtualServerSlot(i, j, 512)])
  }
}
