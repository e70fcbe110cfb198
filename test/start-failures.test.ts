import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { freePort } from '../lib/free-port.js'
import { pidRunning } from '../scripts/chaos/victims.js'
import { oneLine, safeChildPids, start } from './support/start-up.js'

/*
 * Every way the balancer fails to listen is one line on stderr,
 * `ringlb: <what is wrong> (<what to do>)`, and a non-zero exit: a real
 * `node dist/server.js`, with real ports. (Replica and engine failures:
 * start-failures-replicas.test.ts.)
 */

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
