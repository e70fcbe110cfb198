import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { freePort } from '../lib/free-port.js'
import { pidRunning } from '../scripts/chaos/victims.js'
import { childPids } from '../scripts/lib/processes.js'

async function waitForReplicas (base: string, n: number, ms = 30_000): Promise<unknown> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    try {
      const res = await request(`${base}/rep`)
      const body = await res.body.json() as { N: number }
      if (body.N === n) return body
    } catch {}
    await sleep(100)
  }
  throw new Error(`no ${n} replicas at ${base} within ${ms} ms`)
}

function run (t: Test, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'inherit', 'inherit'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return child
}

t.test('npm start\'s entry: 3 replica processes, /home through them, SIGTERM stops them all', async t => {
  const port = await freePort('127.0.0.1')
  const base = `http://127.0.0.1:${port}`
  const server = run(t, ['dist/server.js'], { PORT: String(port), HOST: '127.0.0.1' })
  t.same(await waitForReplicas(base, 3), { N: 3, replicas: ['server-0', 'server-1', 'server-2'] })
  const home = await request(`${base}/home?id=123456`)
  t.equal(home.statusCode, 200)
  t.match(await home.body.json(), { message: /^Hello from Server: [012]$/, status: 'successful' })
  const replicas = childPids(server.pid as number)
  t.equal(replicas.length, 3, 'three child processes')
  server.kill('SIGTERM')
  const [code] = await once(server, 'exit')
  t.equal(code, 0, 'exits cleanly')
  t.ok(replicas.every(pid => !pidRunning(pid)), 'replica processes are gone')
})

t.test('fastify start dist/app.js runs the same app (fastify-cli)', async t => {
  const port = await freePort('127.0.0.1')
  const base = `http://127.0.0.1:${port}`
  const cli = run(t, ['node_modules/fastify-cli/cli.js', 'start', '-l', 'warn', '-a', '127.0.0.1', '-p', String(port), 'dist/app.js'], { LB_REPLICAS: '2' })
  t.same(await waitForReplicas(base, 2), { N: 2, replicas: ['server-0', 'server-1'] })
  const map = await request(`${base}/map_request?id=42`)
  t.equal(map.statusCode, 200)
  cli.kill('SIGTERM')
  await once(cli, 'exit')
})
