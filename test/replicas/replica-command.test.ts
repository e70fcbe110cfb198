import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { freePort } from '../../lib/free-port.js'
import type { ProcessDriver } from '../../lib/replicas/drivers/process.js'
import { BalancerProcess } from '../../scripts/chaos/balancer.js'
import { build, until } from '../helper.js'

/*
 * LB_REPLICA_COMMAND with a server that is not ringlb's: Python's http.server,
 * serving a directory per replica whose file `whoami` says what environment it
 * got. The shell also starts a `sleep` in the background, a process of the
 * replica's tree that is not the server, to show that the whole tree goes.
 * Each replica writes its processes' PIDs to files, so the test can watch them
 * from outside.
 */

const COMMAND = [
  'mkdir -p "$DIR/$REPLICA_NAME" && cd "$DIR/$REPLICA_NAME" || exit 1',
  'printf "%s %s %s %s" "$REPLICA_NAME" "$SERVER_ID" "$HOST" "$GREETING" > whoami',
  'sleep 1000 &',
  'echo $! > sleep.pid',
  'echo $$ > server.pid',
  'exec python3 -m http.server "$PORT" --bind "$HOST"'
].join('\n')

/** Running, and not a zombie: a killed process whose parent is gone may wait a while to be reaped. */
function alive (pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/** The PIDs one replica wrote: its server (the command itself) and the sleep it started. */
function pidsOf (dir: string, hostname: string): number[] {
  return ['server.pid', 'sleep.pid'].map(file => Number(readFileSync(join(dir, hostname, file), 'utf8').trim()))
}

function commandEnv (dir: string): Record<string, string> {
  return {
    LB_REPLICA_COMMAND: COMMAND,
    LB_REPLICA_ENV: JSON.stringify({ DIR: dir, GREETING: 'hi' }),
    LB_HEALTH_PATH: '/',
    LB_REPLICAS: '2'
  }
}

t.test('a foreign command as replicas: its environment, its requests, its death and replacement, its removal', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'ringlb-command-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const app = await build(t, commandEnv(dir))
  const driver = app.replicas.driver as ProcessDriver
  t.same((await app.inject('/rep')).json(), { N: 2, replicas: ['server-0', 'server-1'] })

  t.test('each gets PORT, HOST, SERVER_ID, REPLICA_NAME and LB_REPLICA_ENV, and answers the ids it owns', async t => {
    for (const replica of app.replicas.healthy()) {
      const port = new URL(replica.url).port
      t.equal(readFileSync(join(dir, replica.hostname, 'whoami'), 'utf8'), `${replica.hostname} ${replica.id} 127.0.0.1 hi`)
      t.ok(Number(port) > 0, 'on a port the balancer picked')
    }
    for (let id = 0; id < 10; id++) {
      const res = await app.inject(`/whoami?id=${id}`)
      const owner = app.ring.lookup(id)!
      t.equal(res.statusCode, 200)
      t.equal(res.body.split(' ')[0], owner.hostname, `id ${id} served by its owner`)
    }
  })

  t.test('the command killed with SIGKILL is replaced under the same name and id, and its tree goes with it', async t => {
    const [server, sleeper] = pidsOf(dir, 'server-1')
    t.equal(driver.pid('server-1'), server, 'the driver knows the command\'s own PID')
    process.kill(server, 'SIGKILL')
    await until('server-1 replaced', () => driver.pid('server-1') !== undefined && driver.pid('server-1') !== server && app.replicas.healthy().length === 2)
    await until('the old tree gone', () => !alive(server) && !alive(sleeper), 5000)
    const [fresh] = pidsOf(dir, 'server-1')
    t.not(fresh, server, 'a new process')
    t.ok(alive(fresh))
    const replaced = (await app.inject('/stats')).json().replicas.find((r: { hostname: string }) => r.hostname === 'server-1')
    t.match(replaced, { id: 1, state: 'healthy', respawns: 1 })
  })

  t.test('the guard itself killed with SIGKILL: the balancer kills what it left, and replaces the replica', async t => {
    const [server, sleeper] = pidsOf(dir, 'server-0')
    // the guard is the shell's parent; the command exec'd in the shell, so the server's parent
    const guard = Number(readFileSync(`/proc/${server}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1])
    t.not(guard, process.pid, 'a guard between the balancer and the command')
    process.kill(guard, 'SIGKILL')
    await until('the orphaned tree gone', () => !alive(server) && !alive(sleeper), 5000)
    await until('server-0 replaced', () => driver.pid('server-0') !== undefined && driver.pid('server-0') !== server && app.replicas.healthy().length === 2)
    t.pass('no process left behind, and two replicas again')
  })

  t.test('/rm stops the command and every process it started', async t => {
    const pids = pidsOf(dir, 'server-1')
    const res = await app.inject({ method: 'DELETE', url: '/rm', headers: { 'content-type': 'application/json' }, payload: { n: 1, hostnames: ['server-1'] } })
    t.equal(res.statusCode, 200, res.body)
    await until('server-1\'s tree gone', () => pids.every(pid => !alive(pid)), 5000)
    t.pass('server and sleep are gone')
  })

  t.test('closing the balancer stops the rest', async t => {
    const pids = pidsOf(dir, 'server-0')
    await app.close()
    await until('server-0\'s tree gone', () => pids.every(pid => !alive(pid)), 5000)
    t.pass('server and sleep are gone')
  })
})

t.test('a balancer killed with SIGKILL leaves no command replica behind', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'ringlb-command-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const balancer = BalancerProcess.start({ ...commandEnv(dir), LB_HEARTBEAT_MS: '60000' }, await freePort('127.0.0.1'))
  t.teardown(async () => { await balancer.stop(5000) })
  await balancer.ready(2, 30_000)
  const pids = ['server-0', 'server-1'].flatMap(hostname => pidsOf(dir, hostname))
  t.ok(pids.every(alive), 'both replicas and their sleeps run')
  const res = await request(`${balancer.url}/whoami?id=7`)
  t.equal(res.statusCode, 200)
  await res.body.dump()

  process.kill(balancer.pid, 'SIGKILL')
  await until('every replica process gone', () => pids.every(pid => !alive(pid)), 10_000)
  t.pass('no process of any replica outlived the balancer')
})
