import { readFileSync } from 'node:fs'
import t from 'tap'
import { hashKey, hashText, hashWords } from '../../lib/rings/hash.js'
import { SCHEMES, SIZES, type GoldenInputs, type HashTable, type SchemeTable, defaultOptions, hashTable, schemeTable } from '../../scripts/golden.js'

/*
 * The promise in the README: the mapping from keys to replica names does not
 * change between ringlb versions. A failure here means a change moved keys; if
 * that is meant, it is a breaking change: `npm run golden:update` and a line in
 * CHANGELOG.md.
 */
const BREAKING = 'the key → replica mapping changed: if on purpose, run `npm run golden:update` and say so in CHANGELOG.md'

function committed<T> (name: string): T {
  return JSON.parse(readFileSync(new URL(`golden/${name}.json`, import.meta.url), 'utf8')) as T
}

function verdict (what: string, moved: string[], rows: number): string {
  return moved.length === 0 ? `${what}: all ${rows} rows as committed` : `${what}: ${moved.length} of ${rows} rows moved; ${BREAKING}`
}

/** Rows that differ, as readable lines, so a failure says which keys moved where. */
function differences (expected: unknown[][], actual: unknown[][]): string[] {
  const out: string[] = []
  expected.forEach((row, i) => {
    if (JSON.stringify(row) !== JSON.stringify(actual[i])) out.push(`${JSON.stringify(row)} is now ${JSON.stringify(actual[i])}`)
  })
  return out
}

const inputs = committed<GoldenInputs>('inputs')

t.test('the golden inputs: 1,000 distinct ids and 200 distinct text keys', async t => {
  t.equal(new Set(inputs.ids).size, 1000)
  t.equal(new Set(inputs.textKeys).size, 200)
  t.ok(inputs.ids.every(id => Number.isSafeInteger(id)))
  t.ok(inputs.ids.some(id => id > 2 ** 32) && inputs.ids.some(id => id < -(2 ** 32)), 'ids beyond 32 bits, both signs')
})

for (const scheme of SCHEMES) {
  t.test(`${scheme}: every golden key has the owner, and the failover order, of the committed table`, async t => {
    const table = committed<SchemeTable>(scheme)
    t.same(table.options, defaultOptions(scheme), 'the table is of the default settings (changing a default moves keys too)')
    t.same(table.columns, ['key', ...SIZES.map(n => `N=${n}`)])
    t.same(table.ids.map(row => row[0]), inputs.ids, 'the table covers every golden id')
    t.same(table.textKeys.map(row => row[0]), inputs.textKeys, 'the table covers every golden text key')
    t.equal(table.preference.length, 50)
    const now = schemeTable(table.options, table.hostnames, inputs)
    for (const part of ['ids', 'textKeys', 'preference'] as const) {
      const moved = differences(table[part], now[part])
      t.same(moved.slice(0, 10), [], verdict(part, moved, table[part].length))
    }
  })
}

t.test('every hash function gives its committed known answers', async t => {
  const table = committed<HashTable>('hash')
  const now = hashTable(inputs)
  for (const fn of Object.keys(now) as Array<keyof HashTable>) {
    const moved = differences(table[fn], now[fn])
    t.ok(table[fn].length >= 30, `${fn}: ${table[fn].length} known answers`)
    t.same(moved.slice(0, 10), [], verdict(fn, moved, table[fn].length))
  }
})

t.test('the hash functions are the published ones: FNV-1a 32 and MD5', async t => {
  // FNV-1a test vectors from the reference (www.isthe.com/chongo/src/fnv/test_fnv.c)
  t.equal(hashText(''), 0x811c9dc5)
  t.equal(hashText('a'), 0xe40c292c)
  t.equal(hashText('foobar'), 0xbf9cf968)
  // MD5("") = d41d8cd98f00b204e9800998ecf8427e, read as little-endian words
  t.same(hashWords(''), [0xd98c1dd4, 0x04b2008f, 0x980980e9, 0x7e42f8ec])
  // MD5("a") = 0cc175b9c0f1b6a831c399e269772661
  t.same(hashWords('a'), [0xb975c10c, 0xa8b6f1c0, 0xe299c331, 0x61267769])
})

t.test('ids that differ only above bit 32 hash apart', async t => {
  const low = [0, 1, 123456, 2 ** 32 - 1]
  for (const id of low) {
    const hashes = new Set([0, 1, 2, 3, 1000, 2 ** 20].map(k => hashKey(id + k * 2 ** 32)))
    t.equal(hashes.size, 6, `${id} + k·2^32 for six k: six different hashes`)
  }
  t.not(hashKey(-1), hashKey(2 ** 32 - 1), '-1 and 2^32 - 1 share their low 32 bits only')
})
