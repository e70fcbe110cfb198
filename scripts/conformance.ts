import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type Classified, FAULTS, classifyRequest, classifyResponse } from './conformance/classify.js'
import { requestCases } from './conformance/request-cases.js'
import { responseCases } from './conformance/response-cases.js'
import { type Target, referenceTarget, ringlbTarget } from './conformance/targets.js'
import { exchange } from './conformance/wire.js'

/*
 * `npm run conformance`: raw HTTP/1 requests and answers from every family of
 * ambiguous input, sent to ringlb (fast path on, and off) and, when installed,
 * to nginx and HAProxy, each with a recording upstream of its own, all on
 * loopback. Each case is followed by a second request on the same connection.
 * It prints what each proxy did, case by case, and fails when ringlb smuggles,
 * desyncs or hangs, or forwards what nginx and HAProxy both refuse.
 */

const { values } = parseArgs({ options: { only: { type: 'string' }, wait: { type: 'string', default: '2500' } } })
const waitMs = Number(values.wait)
const only = values.only?.toLowerCase()
const pad = (i: number): string => String(i).padStart(3, '0')
const second = (id: string): string => `GET /second${id}?id=${id} HTTP/1.1\r\nHost: h.test\r\n\r\n`

interface Row { side: 'request' | 'response', family: string, name: string, results: Classified[] }

async function runRequestCase (targets: Target[], i: number): Promise<Row | undefined> {
  const c = requestCases[i]
  if (only !== undefined && !`${c.family} ${c.name}`.toLowerCase().includes(only)) return undefined
  const id = pad(i)
  const p = `/c${id}?id=${id}`
  const bytes = c.bytes(p, `/smuggled${id}`) + second(id)
  const cuts = [0, ...(c.split ?? []), bytes.length]
  const pieces = cuts.slice(1).map((end, k) => bytes.slice(cuts[k], end))
  const probe = typeof c.probe === 'function' ? c.probe(p) : c.probe
  const results = await Promise.all(targets.map(async target => {
    const outcome = await exchange(target.port, pieces, [c.method ?? 'GET', 'GET'], 2, waitMs, c.split === undefined ? 0 : 30)
    const arrivals = target.upstream.arrivals.filter(a => a.head.includes(`c${id}?id=`))
    const hiddenArrivals = target.upstream.arrivals.filter(a => a.head.includes(`/smuggled${id}`))
    return classifyRequest(outcome, arrivals, hiddenArrivals, `/second${id}`, probe)
  }))
  return { side: 'request', family: c.family, name: c.name, results }
}

async function runResponseCase (targets: Target[], i: number): Promise<Row | undefined> {
  const c = responseCases[i]
  if (only !== undefined && !`${c.family} ${c.name}`.toLowerCase().includes(only)) return undefined
  const id = pad(i)
  const method = c.method ?? 'GET'
  for (const target of targets) target.upstream.scripts.set(`/r${id}`, { bytes: c.bytes, close: c.close })
  const bytes = `${method} /r${id}?id=${id} HTTP/1.1\r\nHost: h.test\r\n\r\n${second(id)}`
  const results = await Promise.all(targets.map(async target => {
    const outcome = await exchange(target.port, [bytes], [method, 'GET'], 2, waitMs)
    return classifyResponse(outcome, `/second${id}`, c.probe)
  }))
  return { side: 'response', family: c.family, name: c.name, results }
}

/** The faults of ringlb's rows: a fault verdict, or a forward of what every reference refused. */
function faults (targets: Target[], rows: Row[]): string[] {
  const found: string[] = []
  const references = targets.map((t, k) => t.own ? -1 : k).filter(k => k !== -1)
  for (const row of rows) {
    const bothRefuse = references.length === 2 && references.every(k => row.results[k].verdict === 'refused')
    targets.forEach((target, k) => {
      if (!target.own) return
      const { verdict } = row.results[k]
      if (FAULTS.has(verdict)) found.push(`${target.name}: ${row.side} "${row.name}": ${verdict}`)
      else if (bothRefuse && verdict !== 'refused') found.push(`${target.name}: ${row.side} "${row.name}": forwarded (${verdict}) what nginx and HAProxy refuse`)
    })
  }
  return found
}

function print (targets: Target[], rows: Row[]): void {
  const width = 26
  const cell = (r: Classified): string => `${r.verdict} (${r.detail})`.slice(0, width - 1).padEnd(width)
  console.log(`${'side'.padEnd(9)}${'family'.padEnd(17)}${'case'.padEnd(44)}${targets.map(t => t.name.padEnd(width)).join('')}`)
  for (const row of rows) {
    console.log(`${row.side.padEnd(9)}${row.family.padEnd(17)}${row.name.slice(0, 43).padEnd(44)}${row.results.map(cell).join('')}`)
  }
  for (const side of ['request', 'response'] as const) {
    const sideRows = rows.filter(r => r.side === side)
    console.log(`\n${side} side, ${sideRows.length} cases:`)
    targets.forEach((target, k) => {
      const counts = new Map<string, number>()
      for (const row of sideRows) counts.set(row.results[k].verdict, (counts.get(row.results[k].verdict) ?? 0) + 1)
      console.log(`  ${target.name.padEnd(14)}${['refused', 'normalised', 'as-is', 'smuggled', 'desynced', 'hung'].map(v => `${v} ${counts.get(v) ?? 0}`).join(', ')}`)
    })
  }
}

const dir = await mkdtemp(join(tmpdir(), 'ringlb-conformance-'))
const targets: Target[] = []
let failed: string[] = []
try {
  targets.push(await ringlbTarget(true), await ringlbTarget(false))
  for (const name of ['nginx', 'haproxy'] as const) {
    const reference = await referenceTarget(name, dir)
    if (reference !== undefined) targets.push(reference)
  }
  const rows: Row[] = []
  for (let i = 0; i < requestCases.length; i++) {
    const row = await runRequestCase(targets, i)
    if (row !== undefined) rows.push(row)
  }
  for (let i = 0; i < responseCases.length; i++) {
    const row = await runResponseCase(targets, i)
    if (row !== undefined) rows.push(row)
  }
  print(targets, rows)
  failed = faults(targets, rows)
} finally {
  for (const target of targets) await target.close()
  await rm(dir, { recursive: true, force: true })
}
if (failed.length > 0) {
  console.log(`\nringlb failed ${failed.length} case(s):\n  ${failed.join('\n  ')}`)
  process.exitCode = 1
} else {
  console.log('\nringlb: nothing smuggled, desynced or hung, and nothing forwarded that nginx and HAProxy both refuse')
}
