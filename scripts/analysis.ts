import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import { Pool } from 'undici'
import { loadLines, perReplicaBars, renderSvg, skewLines } from './analysis/charts.js'
import { exerciseEndpoints, recoverFromFailure } from './analysis/recovery.js'
import { type ReplicaControl, dockerControl, processControl } from './analysis/replicas.js'
import { type AnalysisResults, type SchemeRun, reportMarkdown } from './analysis/report.js'
import { textbookFacts } from './analysis/textbook.js'
import { call, sendAll } from './analysis/traffic.js'
import { sixDigitIds } from './ids.js'
import { startBalancer, stop } from './lib/processes.js'

/*
 * `npm run analysis`: the textbook experiments through a real balancer over
 * HTTP. A-1 (N=3) and A-2 (N=2..6) for every scheme, A-3 (every endpoint,
 * and a replica SIGKILLed and recovered from), written to docs/analysis/ as SVG
 * charts, results.json and report.md.
 */
const { values: flags } = parseArgs({
  options: {
    driver: { type: 'string', default: 'process' },
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    out: { type: 'string', default: 'docs/analysis' }
  }
})
if (flags.driver !== 'process' && flags.driver !== 'docker') throw new Error(`--driver must be process or docker, got ${flags.driver}`)
const driver = flags.driver
const requests = Number(flags.requests)
const concurrency = Number(flags.concurrency)
const NS = [2, 3, 4, 5, 6]
const SCHEMES: Array<{ name: string, env: Record<string, string> }> = [
  { name: 'assignment', env: { LB_HASH: 'assignment' } },
  { name: 'maglev', env: { LB_HASH: 'maglev' } },
  { name: 'ring', env: { LB_HASH: 'ring' } },
  { name: 'maglev-bounded', env: { LB_HASH: 'maglev', LB_BALANCE_FACTOR: '1.25' } }
]

const logs = await mkdtemp(join(tmpdir(), 'ringlb-analysis-'))
// containers are labelled with this run's own instance, so cleanup touches nothing else
const run = randomBytes(4).toString('hex')

interface Balancer { url: string, pid: number, control: ReplicaControl, close: () => Promise<void> }

async function balancer (name: string, env: Record<string, string>): Promise<Balancer> {
  const driverEnv: Record<string, string> = driver === 'docker'
    ? { LB_DRIVER: 'docker', LB_INSTANCE: `analysis-${run}`, LB_CONTAINER_PREFIX: `analysis-${run}-` }
    : { LB_DRIVER: 'process' }
  const started = await startBalancer({ LOG_LEVEL: 'warn', ...driverEnv, ...env }, join(logs, `${name}.log`))
  const pid = started.child.pid as number
  const control = driver === 'docker' ? dockerControl(`analysis-${run}`) : processControl(pid)
  return {
    url: started.url,
    pid,
    control,
    close: async () => {
      await stop(started.child)
      control.cleanUp()
    }
  }
}

const bar = new cliProgress.SingleBar({
  format: 'analysis |{bar}| {percentage}% | {value}/{total} requests | {stage}',
  hideCursor: true
}, cliProgress.Presets.shades_classic)
bar.start(SCHEMES.length * NS.length * requests, 0, { stage: 'starting' })

const startedAt = Date.now()
const schemes: SchemeRun[] = []
try {
  for (const scheme of SCHEMES) {
    bar.update({ stage: `${scheme.name}: starting a balancer with 2 replicas` })
    const lb = await balancer(scheme.name, { ...scheme.env, LB_REPLICAS: '2' })
    const pool = new Pool(lb.url, { connections: concurrency })
    try {
      const runs: SchemeRun['runs'] = []
      for (const n of NS) {
        if (n > NS[0]) {
          bar.update({ stage: `${scheme.name}: POST /add → N=${n}` })
          const added = await call(pool, 'POST', '/add', { n: 1 })
          if (added.status !== 200) throw new Error(`/add answered ${added.status}: ${added.text}`)
        }
        const rep = JSON.parse((await call(pool, 'GET', '/rep')).text) as { N: number, replicas: string[] }
        if (rep.N !== n) throw new Error(`expected ${n} replicas, /rep says ${rep.N}`)
        bar.update({ stage: `${scheme.name}: N=${n}, ${requests} × GET /home` })
        // the same ids for every scheme at a given N, so the schemes are compared on equal input
        const tally = await sendAll(pool, '/home', sixDigitIds(requests, n), concurrency, () => { bar.increment() })
        runs.push({ N: n, counts: rep.replicas.map(replica => ({ replica, requests: tally.byReplica.get(replica) ?? 0 })), statuses: Object.fromEntries(tally.byStatus), failures: tally.failures })
      }
      schemes.push({ name: scheme.name, env: scheme.env, runs })
    } finally {
      await pool.close()
      await lb.close()
    }
  }

  bar.update({ stage: 'A-3: every endpoint, then SIGKILL server-1' })
  const lb = await balancer('a3', { LB_REPLICAS: '3' })
  const pool = new Pool(lb.url, { connections: 2 })
  const traffic = new Pool(lb.url, { connections: 8 })
  let a3: AnalysisResults['a3']
  try {
    const endpoints = await exerciseEndpoints(pool)
    const recovery = await recoverFromFailure(pool, traffic, lb.control, 'server-1')
    a3 = { endpoints, recovery: { ...recovery, traffic: { statuses: Object.fromEntries(recovery.traffic.byStatus), failures: recovery.traffic.failures } } }
  } finally {
    await Promise.all([pool.close(), traffic.close()])
    await lb.close()
  }
  bar.update({ stage: 'charts and report' })

  const results: AnalysisResults = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg: loadavg(),
    driver,
    requests,
    concurrency,
    seconds: (Date.now() - startedAt) / 1000,
    schemes,
    a3,
    textbook: textbookFacts()
  }
  await mkdir(flags.out, { recursive: true })
  for (const scheme of schemes) {
    const n3 = scheme.runs.find(r => r.N === 3)
    if (n3 !== undefined) await writeFile(join(flags.out, `a1-${scheme.name}.svg`), await renderSvg(perReplicaBars(`A-1 ${scheme.name}: ${requests} requests, N=3`, n3.counts, requests)))
    await writeFile(join(flags.out, `a2-${scheme.name}.svg`), await renderSvg(loadLines(`A-2 ${scheme.name}: load per replica, N=2..6`, scheme.runs.map(r => {
      const loads = r.counts.map(c => c.requests)
      return { N: r.N, mean: requests / r.N, min: Math.min(...loads), max: Math.max(...loads) }
    }), requests)))
  }
  await writeFile(join(flags.out, 'a4-skew.svg'), await renderSvg(skewLines('A-4: max/mean load per scheme', schemes.flatMap(s => s.runs.map(r => ({
    scheme: s.name, N: r.N, ratio: Math.max(...r.counts.map(c => c.requests)) / (requests / r.N)
  }))))))
  await writeFile(join(flags.out, 'results.json'), JSON.stringify(results, null, 2) + '\n')
  await writeFile(join(flags.out, 'report.md'), reportMarkdown(results))
  bar.update({ stage: `done in ${((Date.now() - startedAt) / 1000).toFixed(0)} s` })
} finally {
  bar.stop()
  await rm(logs, { recursive: true, force: true })
}
console.log(`wrote ${flags.out}/report.md, results.json and ${schemes.length * 2 + 1} SVG charts`)
