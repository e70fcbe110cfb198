import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import cliProgress from 'cli-progress'
import { Pool } from 'undici'
import { cacheFarm } from './analysis/cache-farm.js'
import { type CacheFarmResults, phaseValues } from './analysis/cache-report.js'
import { loadLines, perReplicaBars, phaseBars, renderSvg, skewLines } from './analysis/charts.js'
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
 * and a replica SIGKILLed and recovered from), A-5 (a Varnish cache farm
 * under each scheme, and an /add), written to docs/analysis/ as SVG charts,
 * results.json and report.md. `--only a5` runs A-5 alone and keeps the other
 * results from the results.json already there.
 */
const { values: flags } = parseArgs({
  options: {
    driver: { type: 'string', default: 'process' },
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    out: { type: 'string', default: 'docs/analysis' },
    only: { type: 'string' },
    'cache-requests': { type: 'string', default: '20000' },
    'cache-keys': { type: 'string', default: '2000' }
  }
})
if (flags.only !== undefined && flags.only !== 'a5') throw new Error(`--only takes a5, got ${flags.only}`)
const A5_SCHEMES = ['maglev', 'ring', 'assignment', 'round-robin']
const cacheRequests = Number(flags['cache-requests'])
const cacheKeys = Number(flags['cache-keys'])
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
const a1to4 = flags.only === undefined
bar.start((a1to4 ? SCHEMES.length * NS.length * requests : 0) + A5_SCHEMES.length * 2 * cacheRequests, 0, { stage: 'starting' })

const startedAt = Date.now()
const schemes: SchemeRun[] = []
try {
  for (const scheme of a1to4 ? SCHEMES : []) {
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

  const a3 = a1to4 ? await runA3() : undefined
  const a5 = await runA5()
  bar.update({ stage: 'charts and report' })

  const earlier = a1to4 ? undefined : JSON.parse(await readFile(join(flags.out, 'results.json'), 'utf8')) as AnalysisResults
  const results: AnalysisResults = earlier !== undefined ? { ...earlier, a5 } : {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg: loadavg(),
    driver,
    requests,
    concurrency,
    seconds: (Date.now() - startedAt) / 1000,
    schemes,
    a3: a3 as AnalysisResults['a3'],
    textbook: textbookFacts(),
    a5
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
  if (a1to4) {
    await writeFile(join(flags.out, 'a4-skew.svg'), await renderSvg(skewLines('A-4: max/mean load per scheme', schemes.flatMap(s => s.runs.map(r => ({
      scheme: s.name, N: r.N, ratio: Math.max(...r.counts.map(c => c.requests)) / (requests / r.N)
    }))))))
  }
  await writeFile(join(flags.out, 'a5-hit-ratio.svg'), await renderSvg(phaseBars(`A-5: cache hit ratio, ${cacheRequests.toLocaleString('en')} requests`, phaseValues(a5, 'hitRatio'), 'hit ratio', '.1%')))
  await writeFile(join(flags.out, 'a5-origin.svg'), await renderSvg(phaseBars(`A-5: requests reaching the origin, ${cacheKeys.toLocaleString('en')} keys`, phaseValues(a5, 'origin'), 'origin requests', ',')))
  await writeFile(join(flags.out, 'results.json'), JSON.stringify(results, null, 2) + '\n')
  await writeFile(join(flags.out, 'report.md'), reportMarkdown(results))
  bar.update({ stage: `done in ${((Date.now() - startedAt) / 1000).toFixed(0)} s` })
} finally {
  bar.stop()
  await rm(logs, { recursive: true, force: true })
}
console.log(`wrote ${flags.out}/report.md, results.json and ${a1to4 ? schemes.length * 2 + 3 : 2} SVG charts`)

/** every endpoint once, then a replica SIGKILLed under traffic. */
async function runA3 (): Promise<AnalysisResults['a3']> {
  bar.update({ stage: 'A-3: every endpoint, then SIGKILL server-1' })
  const lb = await balancer('a3', { LB_REPLICAS: '3' })
  const pool = new Pool(lb.url, { connections: 2 })
  const traffic = new Pool(lb.url, { connections: 8 })
  try {
    const endpoints = await exerciseEndpoints(pool)
    const recovery = await recoverFromFailure(pool, traffic, lb.control, 'server-1')
    return { endpoints, recovery: { ...recovery, traffic: { statuses: Object.fromEntries(recovery.traffic.byStatus), failures: recovery.traffic.failures } } }
  } finally {
    await Promise.all([pool.close(), traffic.close()])
    await lb.close()
  }
}

/** the Varnish cache farm under each scheme (process replicas whatever --driver says: the caches are commands). */
async function runA5 (): Promise<CacheFarmResults> {
  bar.update({ stage: `A-5: Varnish cache farm, ${A5_SCHEMES.join(', ')}` })
  const started = Date.now()
  const options = { requests: cacheRequests, keys: cacheKeys, skew: 1, seed: 5, concurrency: 16 }
  const runs = await cacheFarm({ ...options, schemes: A5_SCHEMES, logDir: logs, onRequest: () => { bar.increment() } })
  return { ...options, seconds: (Date.now() - started) / 1000, runs }
}
