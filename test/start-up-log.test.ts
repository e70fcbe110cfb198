import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { freePort } from '../lib/free-port.js'
import { VERSION } from '../lib/version.js'

interface Line { level: number, msg: string, [field: string]: unknown }

/** Starts `node dist/server.js` and collects its log lines up to the start-up summary; then stops it. */
async function startUpLines (t: Test, env: Record<string, string>): Promise<Line[]> {
  const child = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, LOG_LEVEL: 'info', LB_REPLICAS: '1', PORT: String(await freePort('127.0.0.1')), ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: Line[] = []
  // a bound on a busy machine's start
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 90_000)
  for await (const text of createInterface({ input: child.stdout })) {
    lines.push(JSON.parse(text) as Line)
    // the open-admin warning, when there is one, comes right after the summary
    if (lines.some(l => l.msg === `ringlb ${VERSION} started`) && (env.HOST === '127.0.0.1' || lines.at(-1)?.level === 40)) break
  }
  clearTimeout(timer)
  child.kill('SIGTERM')
  await once(child, 'exit')
  return lines
}

t.test('one summary line at start: version, driver, scheme, replicas, address, fast path, admin port, token', async t => {
  const lines = await startUpLines(t, { HOST: '127.0.0.1', LB_HASH: 'ring', LB_ADMIN_TOKEN: 'secret' })
  const summary = lines.find(l => l.msg === `ringlb ${VERSION} started`)
  t.match(summary, {
    level: 30,
    version: VERSION,
    driver: 'process',
    scheme: 'ring',
    replicas: 1,
    address: /^http:\/\/127\.0\.0\.1:\d+$/,
    fast_path: true,
    workers: 1,
    admin_port: null,
    admin_token: true
  })
  t.notOk(JSON.stringify(lines).includes('secret'), 'the token itself is never logged')
  t.same(lines.filter(l => l.level >= 40), [], 'no warning on loopback')
})

t.test('warnings at start: a mistyped LB_ setting, and admin routes open to the network without a token', async t => {
  const lines = await startUpLines(t, { HOST: '0.0.0.0', LB_REPLICA: '5' })
  const warnings = lines.filter(l => l.level === 40).map(l => l.msg)
  t.same(warnings, [
    'LB_REPLICA is not a setting and is ignored: did you mean LB_REPLICAS? (node dist/server.js --help lists them all)',
    '/add and /rm are open to anyone who can reach 0.0.0.0: set LB_ADMIN_TOKEN, or HOST=127.0.0.1 to serve this machine only'
  ])
})
