import { readFileSync } from 'node:fs'

/*
 * `npm run mutation` ends here: the mutation score of each file Stryker
 * mutated, and the check CI runs. No mutant may be left alive unless it is
 * listed in test/mutation/equivalent.json as an equivalent one (no input can
 * tell it from the original), with its reason. An entry names the file, the
 * line's code, the mutator and the replacement, so it covers that one mutant
 * and no other on the line, and it stops matching when the line changes: the
 * mutant is then judged again. Stryker's disable comments are refused, as they
 * switch off every mutant of a mutator on a line, the killable ones too.
 */

interface Mutant {
  mutatorName: string
  replacement?: string
  status: string
  location: { start: { line: number, column: number } }
}

interface Report { files: Record<string, { source: string, mutants: Mutant[] }> }

interface Equivalent {
  file: string
  /** the mutated line, trimmed */
  code: string
  mutator: string
  replacement: string
  reason: string
}

const DETECTED = new Set(['Killed', 'Timeout'])
const UNDETECTED = new Set(['Survived', 'NoCoverage'])
/** as in Stryker's own score: a mutant that stops the tests from loading at all (a module that throws on import) is in neither count */
const INVALID = new Set(['RuntimeError', 'CompileError'])

const reportPath = process.argv[2] ?? 'reports/mutation/mutation.json'
const equivalentPath = process.argv[3] ?? 'test/mutation/equivalent.json'
const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report
const equivalents = JSON.parse(readFileSync(equivalentPath, 'utf8')) as Equivalent[]
const matched = new Set<Equivalent>()
const failures: string[] = []
const notes: string[] = []
const rows: string[] = []

for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const lines = source.split('\n')
  const listed = (m: Mutant): Equivalent | undefined => equivalents.find(e =>
    e.file === file && e.mutator === m.mutatorName && e.replacement === m.replacement && e.code === lines[m.location.start.line - 1]?.trim())
  let detected = 0
  let alive = 0
  let equivalent = 0
  let invalid = 0
  for (const m of mutants) {
    const where = `${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName} → ${JSON.stringify(m.replacement ?? '')}`
    const entry = listed(m)
    if (entry !== undefined) matched.add(entry)
    if (DETECTED.has(m.status)) {
      detected++
      // a listed mutant that a test (or a timeout under load) caught: the list may be wrong about it
      if (entry !== undefined) notes.push(`${where} is listed as equivalent but was ${m.status}`)
    } else if (INVALID.has(m.status)) {
      invalid++
    } else if (UNDETECTED.has(m.status) && entry !== undefined) {
      equivalent++
    } else if (UNDETECTED.has(m.status)) {
      alive++
      failures.push(`${where} ${m.status}`)
    } else {
      alive++
      failures.push(`${where} ${m.status}: list an equivalent mutant in ${equivalentPath} instead of disabling it`)
    }
  }
  const score = detected + alive === 0 ? 100 : (100 * detected) / (detected + alive)
  rows.push(`${file.padEnd(34)} ${String(mutants.length).padStart(4)} mutants ${String(detected).padStart(4)} killed ${String(alive).padStart(3)} alive ${String(equivalent).padStart(3)} equivalent ${String(invalid).padStart(3)} invalid  ${score.toFixed(2).padStart(6)}%`)
}

for (const e of equivalents) {
  if (e.reason.trim() === '') failures.push(`${equivalentPath}: ${e.file} \`${e.code}\` ${e.mutator} → ${e.replacement} gives no reason`)
  // only for a file this run mutated: an incremental run reports every file of the config, a run over a few files does not
  if (!matched.has(e) && report.files[e.file] !== undefined) failures.push(`${equivalentPath}: ${e.file} \`${e.code}\` ${e.mutator} → ${e.replacement} matches no mutant: the line changed; judge its mutants again`)
}

console.log(rows.join('\n'))
console.log(`\n${equivalents.length} mutants listed as equivalent, each with its reason, in ${equivalentPath}`)
if (notes.length > 0) console.log(`\n${notes.join('\n')}`)
if (failures.length > 0) {
  console.log(`\nmutants left alive (kill each with a test, or list an equivalent one with its reason):\n  ${failures.join('\n  ')}`)
  process.exitCode = 1
}
