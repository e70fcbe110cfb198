import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { freePort } from '../../lib/free-port.js'

const entry = fileURLToPath(new URL('../../dist/replica/server.js', import.meta.url))

t.test('a container replica told to stop fails its heartbeat with 503 for REPLICA_LAME_DUCK_MS while still serving, then exits', async t => {
  const port = await freePort('127.0.0.1')
  const child = spawn(process.execPath, [entry], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', SERVER_ID: '7', REPLICA_LAME_DUCK_MS: '800' }, stdio: 'ignore' })
  t.teardown(() => { child.kill('SIGKILL') })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${url}/heartbeat`)).ok) break } catch {}
    if (i > 200) throw new Error('the replica did not start')
    await sleep(25)
  }
  const exited = once(child, 'exit')
  const stoppedAt = Date.now()
  child.kill('SIGTERM')
  await sleep(100)
  const beat = await fetch(`${url}/heartbeat`)
  t.equal(beat.status, 503, 'its heartbeat says it is leaving')
  const home = await fetch(`${url}/home`)
  t.equal(home.status, 200, 'and it still serves')
  t.same(await home.json(), { message: 'Hello from Server: 7', status: 'successful' })
  const [code] = await exited
  const after = Date.now() - stoppedAt
  t.equal(code, 0)
  t.ok(after >= 750 && after < 5000, `exited ${after} ms after SIGTERM`)
})
