import { mkdirSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { SCHEMES, HOSTNAMES, defaultOptions, goldenInputs, hashTable, schemeTable } from './golden.js'

/*
 * `npm run golden:update`: rewrites the golden mapping tables in test/rings/golden/
 * from the code as it is. Run it only when a change to the key → replica
 * mapping is meant, and say so in CHANGELOG.md: it is a breaking change.
 */

/** JSON with each row of a table on one line, so a moved key shows as one changed line in a diff. */
function formatted (value: object): string {
  const lines = Object.entries(value).map(([name, field]) => {
    const rows = Array.isArray(field) && Array.isArray(field[0])
      ? `[\n${field.map(row => `    ${JSON.stringify(row)}`).join(',\n')}\n  ]`
      : JSON.stringify(field)
    return `  ${JSON.stringify(name)}: ${rows}`
  })
  return `{\n${lines.join(',\n')}\n}\n`
}

const dir = resolve('test/rings/golden')
mkdirSync(dir, { recursive: true })
const inputs = goldenInputs()
writeFileSync(resolve(dir, 'inputs.json'), `${JSON.stringify(inputs, null, 1)}\n`)
writeFileSync(resolve(dir, 'hash.json'), formatted(hashTable(inputs)))
for (const scheme of SCHEMES) {
  writeFileSync(resolve(dir, `${scheme}.json`), formatted(schemeTable(defaultOptions(scheme), HOSTNAMES, inputs)))
}
console.log(`wrote ${dir}/{inputs,hash,${SCHEMES.join(',')}}.json: ${inputs.ids.length} ids, ${inputs.textKeys.length} text keys`)
