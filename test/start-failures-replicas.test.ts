import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { freePort } from '../lib/free-port.js'
import { pidRunning } from '../scripts/chaos/victims.js'
import { docker, removeRun, testRun, underCI } from './docker-engine.js'
import { oneLine, safeChildPids, start } from './support/start-up.js'

/*
 * Every way the balancer fails to start its replicas, or is stopped while it
 * does, is one line on stderr, `ringlb: <what is wrong> (<what to do>)`, and
 * a non-zero exit: a real `node dist/server.js`, real replica processes and
 * a real engine. Also a bad setting and the command line.
 */

t.test('replicas that cannot start in time: one line naming them and the setting to raise', async t => {
  const { exit } = start(t, { PORT: String(await freePort('127.0.0.1')), LB_REPLICAS: '3', LB_READY_TIMEOUT_MS: '100' })
  await oneLine(t, exit, /^ringlb: could not start 'server-0', 'server-1', 'server-2': .*\(raise LB_READY_TIMEOUT_MS if replicas start slowly\)\n$/)
})

t.test('Ctrl-C while the replicas start: "stopped before it was ready", replicas stopped', async t => {
  const { child, exit } = start(t, { PORT: String(await freePort('127.0.0.1')), LB_REPLICAS: '3', LB_READY_TIMEOUT_MS: '60000' })
  // hold the first replica still, so the balancer cannot be ready before the signal; only once it
  // has exec'd: stopped between fork and exec, it would block the balancer in spawn(), which waits for the exec
  const ownCommand = commandLine(child.pid as number)
  let held: number | undefined
  while (held === undefined && child.exitCode === null) {
    held = safeChildPids(child.pid as number).find(pid => { const command = commandLine(pid); return command !== '' && command !== ownCommand })
    if (held === undefined) await sleep(10)
  }
  if (held === undefined) throw new Error('the balancer exited before starting a replica')
  process.kill(held, 'SIGSTOP')
  t.teardown(() => { if (pidRunning(held)) process.kill(held, 'SIGKILL') })
  await sleep(500)
  const replicas = safeChildPids(child.pid as number)
  child.kill('SIGINT')
  await oneLine(t, exit, /^ringlb: stopped before it was ready \(SIGINT while starting; process replicas are stopped, containers kept for the next start\)\n$/)
  process.kill(held, 'SIGCONT')
  const deadline = Date.now() + 5000
  while (replicas.some(pidRunning) && Date.now() < deadline) await sleep(50)
  t.same(replicas.filter(pidRunning), [], 'every replica process has exited')
})

t.test('the Docker engine unreachable: one line, with what to do', async t => {
  const { exit } = start(t, { PORT: String(await freePort('127.0.0.1')), LB_DRIVER: 'docker', LB_DOCKER_SOCKET: '/nonexistent/docker.sock' })
  await oneLine(t, exit, /^ringlb: Docker engine unreachable while trying to list containers: connect ENOENT \/nonexistent\/docker\.sock \(start the engine, or set LB_DOCKER_SOCKET to its socket; LB_DRIVER=process needs none\)\n$/)
})

/** Why the engine test cannot run here; under CI it must. */
async function noEngine (): Promise<string | false> {
  try {
    await docker.ping()
    return false
  } catch (err) {
    if (underCI()) throw err
    return `no Docker engine: ${(err as Error).message}`
  }
}

t.test('an image the engine does not have: said once for all the replicas', { skip: await noEngine() }, async t => {
  const run = testRun()
  t.teardown(async () => { await removeRun(run) })
  const { exit } = start(t, { ...run.env, PORT: String(await freePort('127.0.0.1')), LB_IMAGE: 'ringlb:no-such-image-of-this-test' })
  await oneLine(t, exit, /^ringlb: could not start 'server-0', 'server-1', 'server-2': No such image: ringlb:no-such-image-of-this-test \(LB_IMAGE=ringlb:no-such-image-of-this-test, LB_NETWORK=host: build the image with make build, or set LB_IMAGE and LB_NETWORK to ones the engine has\)\n$/)
  t.same(await docker.listContainers({ all: true, filters: { label: [`ringlb.instance=${run.instance}`] } }), [], 'no container left')
})

t.test('a bad setting, and a mistyped one beside it', async t => {
  await oneLine(t, start(t, { LB_HASH: 'crc32' }).exit, /^ringlb: invalid configuration: LB_HASH must be one of maglev, ring, assignment, round-robin\n$/)
  await oneLine(t, start(t, { PORT: '5000', LB_ADMIN_PORT: '5000' }).exit, /^ringlb: invalid configuration: LB_ADMIN_PORT \(5000\) must differ from PORT/)
})

t.test('--help lists every setting with its default and exits 0; --version prints the version; anything else is one line', async t => {
  const help = start(t, {}, ['--help'])
  let stdout = ''
  help.child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  t.equal((await help.exit).code, 0)
  t.equal((await help.exit).stderr, '')
  const { ConfigSchema } = await import('../lib/config.js')
  for (const name of Object.keys(ConfigSchema.properties)) t.match(stdout, new RegExp(`^  ${name} `, 'm'), `${name} listed`)
  t.match(stdout, /^ {2}PORT +5000 /m, 'with its default')
  t.match(stdout, /^ {2}LB_HASH +maglev +maglev\|ring\|assignment\|round-robin$/m)
  t.notOk(await portAnswers(5000), 'and nothing started')

  const version = start(t, {}, ['--version'])
  let printed = ''
  version.child.stdout?.on('data', (chunk: Buffer) => { printed += chunk.toString() })
  t.equal((await version.exit).code, 0)
  const { VERSION } = await import('../lib/version.js')
  t.equal(printed, `ringlb ${VERSION}\n`)

  const wrong = start(t, {}, ['--port=80'])
  t.equal((await wrong.exit).code, 2)
  t.equal((await wrong.exit).stderr, 'ringlb: unknown argument \'--port=80\' (settings are environment variables: node dist/server.js --help lists them)\n')
})

async function portAnswers (port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/heartbeat`, { signal: AbortSignal.timeout(500) })
    return res.ok
  } catch {
    return false
  }
}

/** A process's command line, '' once it is gone. */
function commandLine (pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1')
  } catch {
    return ''
  }
}
