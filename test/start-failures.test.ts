import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { freePort } from '../lib/free-port.js'
import { pidRunning } from '../scripts/chaos/victims.js'
import { childPids } from '../scripts/lib/processes.js'
import { docker, removeRun, testRun, underCI } from './docker-engine.js'

/*
 * Every way the balancer fails to start is one line on stderr,
 * `ringlb: <what is wrong> (<what to do>)`, and a non-zero exit: a real
 * `node dist/server.js`, with real ports, processes and engine.
 */

interface Exit { code: number | null, stderr: string, child: ChildProcess }

function start (t: Test, env: Record<string, string>, args: string[] = []): { child: ChildProcess, exit: Promise<Exit> } {
  const child = spawn(process.execPath, ['dist/server.js', ...args], {
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exit = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr, child }))
  return { child, exit }
}

/** Asserts exactly one line on stderr, matching `line`, and a non-zero exit. */
async function oneLine (t: Test, exit: Promise<Exit>, line: RegExp): Promise<void> {
  const { code, stderr } = await exit
  t.not(code, 0, 'exits non-zero')
  t.equal(stderr.split('\n').filter(Boolean).length, 1, `one line on stderr: ${JSON.stringify(stderr)}`)
  t.match(stderr, line)
}

t.test('port in use: one line that says to set PORT, and its replicas are stopped', async t => {
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const port = (taken.address() as { port: number }).port
  const { child, exit } = start(t, { PORT: String(port), LB_REPLICAS: '2' })
  // the replicas start before the balancer listens
  let replicas: number[] = []
  while (child.exitCode === null) {
    replicas = child.pid === undefined ? [] : [...new Set([...replicas, ...safeChildPids(child.pid)])]
    await sleep(20)
  }
  await oneLine(t, exit, new RegExp(`^ringlb: port ${port} on 127\\.0\\.0\\.1 is in use by another program \\(set PORT to a free port, or stop that program\\)\\n$`))
  await sleep(200)
  t.same(replicas.filter(pidRunning), [], 'no replica process left')
})

t.test('port in use with LB_WORKERS=2: the workers\' failure is said once, by the primary', async t => {
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const port = (taken.address() as { port: number }).port
  const { exit } = start(t, { PORT: String(port), LB_REPLICAS: '1', LB_WORKERS: '2' })
  await oneLine(t, exit, new RegExp(`^ringlb: port ${port} on 127\\.0\\.0\\.1 is in use by another program \\(set PORT to a free port, or stop that program\\)\\n$`))
})

t.test('LB_ADMIN_PORT in use: the line names LB_ADMIN_PORT', async t => {
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const port = (taken.address() as { port: number }).port
  const { exit } = start(t, { PORT: String(await freePort('127.0.0.1')), LB_ADMIN_PORT: String(port), LB_REPLICAS: '1' })
  await oneLine(t, exit, new RegExp(`^ringlb: port ${port} on 127\\.0\\.0\\.1 is in use by another program \\(set LB_ADMIN_PORT to a free port`))
})

t.test('a HOST that does not resolve, and one that is not this machine\'s', async t => {
  const port = String(await freePort('127.0.0.1'))
  await oneLine(t, start(t, { PORT: port, HOST: 'no-such-host.invalid', LB_REPLICAS: '1' }).exit,
    /^ringlb: HOST 'no-such-host\.invalid' is not an address or a name this machine can resolve \(set HOST to an address of this machine, e\.g\. 0\.0\.0\.0 or 127\.0\.0\.1\)\n$/)
  // TEST-NET-1 (RFC 5737): never an address of this machine
  await oneLine(t, start(t, { PORT: port, HOST: '192.0.2.1', LB_REPLICAS: '1' }).exit,
    /^ringlb: HOST '192\.0\.2\.1' is not an address of this machine \(set HOST to one of its addresses/)
})

t.test('replicas that cannot start in time: one line naming them and the setting to raise', async t => {
  const { exit } = start(t, { PORT: String(await freePort('127.0.0.1')), LB_REPLICAS: '3', LB_READY_TIMEOUT_MS: '100' })
  await oneLine(t, exit, /^ringlb: could not start 'server-0', 'server-1', 'server-2': .*\(raise LB_READY_TIMEOUT_MS if replicas start slowly\)\n$/)
})

t.test('Ctrl-C while the replicas start: "stopped before it was ready", replicas stopped', async t => {
  const { child, exit } = start(t, { PORT: String(await freePort('127.0.0.1')), LB_REPLICAS: '3', LB_READY_TIMEOUT_MS: '60000' })
  // hold the first replica still, so the balancer cannot be ready before the signal
  let held: number | undefined
  while (held === undefined && child.exitCode === null) {
    held = safeChildPids(child.pid as number)[0]
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
  await oneLine(t, start(t, { LB_HASH: 'crc32' }).exit, /^ringlb: invalid configuration: LB_HASH must be one of maglev, ring, assignment\n$/)
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
  t.match(stdout, /^ {2}LB_HASH +maglev +maglev\|ring\|assignment$/m)
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

/** A process's children; none once it has exited. */
function safeChildPids (pid: number): number[] {
  try {
    return childPids(pid)
  } catch {
    return []
  }
}

async function portAnswers (port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/heartbeat`, { signal: AbortSignal.timeout(500) })
    return res.ok
  } catch {
    return false
  }
}
