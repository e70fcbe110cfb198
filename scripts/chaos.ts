import { parseArgs } from 'node:util'
import { type ChaosOptions, failures, runChaos } from './chaos/run.js'
import { runSwarmChaos } from './chaos/swarm-run.js'

/*
 * `npm run chaos [-- --duration 20 --connections 50 --kills 4 --interval 4 --driver process|docker]`:
 * load on /home while replicas are killed; exits 1 if any request failed or
 * the replica count was not back to target in time.
 * `--driver swarm [--image ringlb:latest]`: on a two-node swarm built on this
 * machine (root; see scripts/lib/swarm-cluster.ts), a task on node 2 killed,
 * then node 2's engine stopped, under load; prints the timings.
 */
const { values } = parseArgs({
  options: {
    driver: { type: 'string', default: 'process' },
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '50' },
    kills: { type: 'string', default: '4' },
    interval: { type: 'string' },
    replicas: { type: 'string', default: '3' },
    port: { type: 'string', default: '0' },
    'recover-ms': { type: 'string', default: '5000' },
    image: { type: 'string', default: 'ringlb:latest' },
    help: { type: 'boolean', short: 'h', default: false }
  }
})

if (values.help) {
  console.log('usage: npm run chaos -- [--driver process|docker] [--duration s] [--connections n] [--kills n] [--interval s] [--replicas n] [--port p] [--recover-ms ms]')
  console.log('       npm run chaos -- --driver swarm [--image ringlb:latest] [--duration s] [--connections n] [--replicas n]')
  process.exit(0)
}

function positive (name: string, text: string | undefined, integer = true): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    console.error(`chaos: --${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`)
    process.exit(2)
  }
  return n
}

if (values.driver === 'swarm') {
  const duration = positive('duration', values.duration)
  if (duration < 20) {
    console.error('chaos --driver swarm: --duration must be at least 20 s (a kill, then a node lost)')
    process.exit(2)
  }
  const ok = await runSwarmChaos({
    image: values.image as string,
    replicas: positive('replicas', values.replicas),
    connections: positive('connections', values.connections),
    duration,
    log: line => { console.log(line) }
  })
  process.exit(ok ? 0 : 1)
}
if (values.driver !== 'process' && values.driver !== 'docker') {
  console.error(`chaos: --driver must be process, docker or swarm, got '${values.driver}'`)
  process.exit(2)
}

const options: ChaosOptions = {
  driver: values.driver,
  duration: positive('duration', values.duration),
  connections: positive('connections', values.connections),
  kills: positive('kills', values.kills),
  interval: values.interval === undefined ? undefined : positive('interval', values.interval, false),
  replicas: positive('replicas', values.replicas),
  port: values.port === '0' ? 0 : positive('port', values.port),
  recoverMs: positive('recover-ms', values['recover-ms']),
  log: line => { console.log(line) }
}

const report = await runChaos(options)
const codes = Object.entries(report.statusCodes).map(([code, n]) => `${code}: ${n}`).join(', ')
console.log(`requests: ${report.sent} sent, ${report.completed} completed, ${report.ok} 2xx, ${report.non2xx} non-2xx, ${report.errors} errors (${report.timeouts} timeouts) [${codes}]`)
for (const sample of report.errorSamples) console.log(`  error: ${sample}`)
console.log(`balancer${report.workers > 0 ? ` (${report.workers} workers)` : ''}: exit code ${report.exitCode} on SIGTERM; ${report.afterStop.length} replicas still running after it` +
  (options.driver === 'docker' ? ' (containers are kept for adoption; this run removes them now)' : ''))
const problems = failures(report, options)
if (problems.length === 0) {
  console.log(`PASS: 0 failed requests, ${report.kills.length} kills, each back to ${options.replicas} replicas within ${options.recoverMs} ms; the balancer stopped with code 0`)
} else {
  for (const problem of problems) console.log(`FAIL: ${problem}`)
  console.log('last balancer output:')
  for (const line of report.balancerLogs.slice(-30)) console.log(`  ${line}`)
  process.exitCode = 1
}
