import { readFileSync } from 'node:fs'

/*
 * `npm run mutation` ends here: the mutation score of each file Stryker
 * mutated, checked against the floor the file must keep. A mutant may be left
 * alive only as an equivalent one, disabled where it is with a
 * `// Stryker disable next-line <mutator>: <reason>` comment; each is listed
 * here with its reason, and one without a reason fails the check.
 */

interface Mutant {
  mutatorName: string
  replacement?: string
  status: string
  statusReason?: string
  location: { start: { line: number, column: number } }
}

interface Report { files: Record<string, { mutants: Mutant[] }> }

/**
 * The lowest score a file may have (the first prefix that matches). 100 means
 * no mutant may survive: a change that adds behaviour no test pins fails CI.
 */
const FLOORS: Array<[string, number]> = [
  ['', 100]
]

const DETECTED = new Set(['Killed', 'Timeout'])
const UNDETECTED = new Set(['Survived', 'NoCoverage'])
const INVALID = new Set(['RuntimeError', 'CompileError'])
/** Stryker's own reason for a comment that gives none */
const NO_REASON = /^Ignored using a comment$/

const path = process.argv[2] ?? 'reports/mutation/mutation.json'
const report = JSON.parse(readFileSync(path, 'utf8')) as Report
const failures: string[] = []
const rows: string[] = []
const ignored: string[] = []

for (const [file, { mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const detected = mutants.filter(m => DETECTED.has(m.status)).length
  const undetected = mutants.filter(m => UNDETECTED.has(m.status))
  const score = detected + undetected.length === 0 ? 100 : (100 * detected) / (detected + undetected.length)
  const floor = FLOORS.find(([prefix]) => file.startsWith(prefix))?.[1] ?? 0
  const equivalent = mutants.filter(m => m.status === 'Ignored')
  // as in Stryker's own score: a mutant that stops the tests from loading at all (a module that throws on import) is invalid, in neither count
  const invalid = mutants.filter(m => INVALID.has(m.status)).length
  rows.push(`${file.padEnd(32)} ${String(mutants.length).padStart(5)} mutants  ${String(detected).padStart(4)} killed  ${String(undetected.length).padStart(3)} alive  ${String(equivalent.length).padStart(3)} equivalent  ${String(invalid).padStart(3)} invalid  ${score.toFixed(2).padStart(6)}%  (floor ${floor}%)`)
  if (score < floor) failures.push(`${file}: ${score.toFixed(2)}% is below ${floor}%`)
  for (const m of undetected) failures.push(`${file}:${m.location.start.line}:${m.location.start.column} ${m.status}: ${m.mutatorName} → ${JSON.stringify(m.replacement ?? '')}`)
  for (const m of equivalent) {
    const reason = m.statusReason ?? ''
    ignored.push(`${file}:${m.location.start.line} ${m.mutatorName}: ${reason}`)
    if (reason === '' || NO_REASON.test(reason)) failures.push(`${file}:${m.location.start.line} ${m.mutatorName} is disabled without a reason`)
  }
}

console.log(rows.join('\n'))
if (ignored.length > 0) console.log(`\nequivalent mutants, disabled with their reason:\n  ${ignored.join('\n  ')}`)
if (failures.length > 0) {
  console.log(`\nmutants left alive (kill them with a test, or disable an equivalent one with its reason):\n  ${failures.join('\n  ')}`)
}
process.exitCode = failures.some(f => f.includes('is below') || f.includes('without a reason')) ? 1 : 0
