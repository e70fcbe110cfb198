import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { type AddressInfo, createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { freePort } from '../../lib/free-port.js'
import { pidRunning } from '../../scripts/chaos/victims.js'
import { balancerChildren, replicaPid } from '../../scripts/lib/processes.js'
import { sixDigitIds } from '../fixtures.js'
import { until } from '../helper.js'
import { type EchoClient, openEcho } from '../support/websocket-client.js'

/*
 * LB_WORKERS=2: `node dist/server.js` as a node:cluster, a primary keeping the
 * replicas and two workers proxying, each on its copy of the primary's ring.
 */

interface Cluster {
  base: string
  primary: ChildProcess
  pid: number
  /** what it has logged, when started with `ownGroup` */
  output: () => string
}

async function json<T> (url: string, options: Parameters<typeof request>[1] = {}): Promise<{ status: number, body: T }> {
  const res = await request(url, options)
  return { status: res.statusCode, body: await res.body.json() as T }
}

/**
 * Starts `node dist/server.js` with two workers and waits until it serves its
 * replicas. With `ownGroup` it leads a process group of its own (as under a
 * service manager, which signals the whole group), and its log is kept.
 */
async function startCluster (t: Test, env: Record<string, string>, { ownGroup = false } = {}): Promise<Cluster> {
  const port = await freePort('127.0.0.1')
  const base = `http://127.0.0.1:${port}`
  const primary = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1', LB_WORKERS: '2', LB_HEARTBEAT_MS: '200', LB_HEARTBEAT_TIMEOUT_MS: '500', ...env },
    stdio: ['ignore', ownGroup ? 'pipe' : 'inherit', ownGroup ? 'pipe' : 'inherit'],
    detached: ownGroup
  })
  const pid = primary.pid as number
  let output = ''
  primary.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  primary.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(async () => {
    if (primary.exitCode !== null || primary.signalCode !== null) return
    const { replicas, others } = balancerChildren(pid)
    primary.kill('SIGKILL')
    for (const child of [...replicas, ...others]) if (pidRunning(child)) process.kill(child, 'SIGKILL')
  })
  await until('the cluster serves 3 replicas', async () => {
    try {
      return (await json<{ N: number }>(`${base}/rep`)).body.N === 3
    } catch {
      return false
    }
  }, 60_000)
  return { base, primary, pid, output: () => output }
}

/** An id that `hostname` owns on the primary's ring, from a seeded list of 100. */
async function idOwnedBy (base: string, hostname: string, seed: number): Promise<number | undefined> {
  for (const id of sixDigitIds(100, seed)) {
    if ((await json<{ hostname: string }>(`${base}/map_request?id=${id}`)).body.hostname === hostname) return id
  }
  return undefined
}

/**
 * Sends each id once through the balancer, each on a new connection (node:cluster
 * deals connections to the workers in turn), and returns the ids whose answer
 * came from another replica than the one /map_request (the primary's ring) names.
 */
async function misrouted (base: string, ids: number[]): Promise<string[]> {
  const wrong: string[] = []
  for (const id of ids) {
    const proxied = await request(`${base}/home?id=${id}`, { reset: true })
    await proxied.body.dump()
    // on a kept-alive connection: a new one each time would take every other turn from the proxied requests
    const { body: mapped } = await json<{ hostname: string }>(`${base}/map_request?id=${id}`)
    if (proxied.statusCode !== 200 || proxied.headers['x-ringlb-replica'] !== mapped.hostname) {
      wrong.push(`${id}: ${proxied.statusCode} from ${String(proxied.headers['x-ringlb-replica'])}, mapped to ${mapped.hostname}`)
    }
  }
  return wrong
}

interface WorkerStats { pid: number, requests: number, in_flight: number }

async function workerStats (base: string): Promise<WorkerStats[]> {
  return (await json<{ workers: WorkerStats[] }>(`${base}/stats`)).body.workers
}

t.test('every worker routes every id as the primary\'s ring does, through adds, removes, a replica\'s death and a worker\'s', async t => {
  // the assignment map depends on the order of adds and removes: the hardest scheme to copy
  const cluster = await startCluster(t, { LB_HASH: 'assignment', LB_ADMIN_TOKEN: 'secret' })
  const { base, pid } = cluster
  const ids = sixDigitIds(150, 7)

  t.same(await misrouted(base, ids), [], 'at start')
  const workers = await workerStats(base)
  t.equal(workers.length, 2, 'two workers report')
  t.ok(workers.every(w => w.requests > 0), 'both workers proxied some of the requests')

  const metrics = parsePrometheusTextFormat(await (await request(`${base}/metrics`)).body.text())
  const proxied = metrics.find(m => m.name === 'ringlb_proxy_requests_total')?.metrics.reduce((sum, m) => sum + Number(m.value), 0)
  t.equal(proxied, ids.length, '/metrics sums the workers\' counts')

  const admin = { 'content-type': 'application/json', authorization: 'Bearer secret' }
  const refused = await json<{ status: string }>(`${base}/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n": 1}' })
  t.equal(refused.status, 401, 'no token, no /add, through a worker as in one process')
  t.equal((await request(`${base}/rep`, { method: 'HEAD' })).statusCode, 200, 'HEAD /rep')
  t.equal((await request(`${base}/rep`, { method: 'PUT' })).statusCode, 405, 'PUT /rep')
  const docs = await request(`${base}/docs/`)
  t.equal(docs.statusCode, 200, '/docs/ (a route onRoute does not report) is the primary\'s, not proxied')
  t.match(docs.headers['content-type'], /text\/html/)
  await docs.body.dump()

  const added = await json<{ message: { N: number } }>(`${base}/add`, { method: 'POST', headers: admin, body: JSON.stringify({ n: 2 }) })
  t.equal(added.status, 200)
  t.equal(added.body.message.N, 5)
  const removed = await json<{ message: { replicas: string[] } }>(`${base}/rm`, { method: 'DELETE', headers: admin, body: JSON.stringify({ n: 1, hostnames: ['server-1'] }) })
  t.equal(removed.status, 200)
  t.notOk(removed.body.message.replicas.includes('server-1'))
  const bad = await json<{ message: string, status: string }>(`${base}/add`, { method: 'POST', headers: admin, body: '{"n": "x"}' })
  t.equal(bad.status, 400, 'an admin error passes through a worker unchanged')
  t.equal(bad.body.status, 'failure')
  t.same(await misrouted(base, ids), [], 'after /add and /rm')

  const victim = replicaPid(pid, 'server-0') as number
  process.kill(victim, 'SIGKILL')
  await until('server-0 is replaced', async () => {
    const replacement = replicaPid(pid, 'server-0')
    if (replacement === undefined || replacement === victim) return false
    return (await json<{ replicas: string[] }>(`${base}/rep`)).body.replicas.includes('server-0')
  })
  t.same(await misrouted(base, ids), [], 'after a replica died and was replaced')

  const totals = async (): Promise<number> => (await json<{ totals: { requests: number } }>(`${base}/stats`)).body.totals.requests
  const counted = await totals()
  const [dead, alive] = balancerChildren(pid).others
  process.kill(dead, 'SIGKILL')
  await until('a new worker replaces the dead one', () => {
    const now = balancerChildren(pid).others
    return now.length === 2 && !now.includes(dead) && now.includes(alive)
  })
  await until('the new worker listens', async () => (await workerStats(base)).length === 2)
  t.equal(await totals(), counted, 'the dead worker\'s requests still count, once')
  t.same(await misrouted(base, ids), [], 'after a worker died and was replaced')
  const after = await workerStats(base)
  t.ok(after.every(w => w.requests > 0), 'the new worker proxies too')

  const { replicas, others } = balancerChildren(pid)
  cluster.primary.kill('SIGTERM')
  const [code] = await once(cluster.primary, 'exit')
  t.equal(code, 0, 'SIGTERM: exits cleanly')
  t.ok([...replicas, ...others].every(child => !pidRunning(child)), 'workers and replica processes are gone')
})

t.test('/rm through a worker waits for that worker\'s request in flight to the replica', async t => {
  // no heartbeat failure while the replica is stopped: only the drain holds it
  const { base, pid } = await startCluster(t, { LB_HEARTBEAT_MS: '600000', LB_DRAIN_MS: '20000' })
  const id = await idOwnedBy(base, 'server-2', 3)
  t.ok(id !== undefined, 'an id that server-2 owns')
  const replica = replicaPid(pid, 'server-2') as number
  process.kill(replica, 'SIGSTOP')
  const inFlight = request(`${base}/home?id=${id}`)
  await sleep(300)
  const started = Date.now()
  let removedAt = 0
  const removal = json<{ message: { N: number } }>(`${base}/rm`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{"n": 1, "hostnames": ["server-2"]}' })
    .then(answer => { removedAt = Date.now(); return answer })
  await until('server-2 is out of the ring', async () => (await json<{ N: number }>(`${base}/rep`)).body.N === 2)
  await sleep(1500)
  t.equal(removedAt, 0, '/rm has not answered while the request is in flight')
  const stats = await json<{ replicas: Array<{ hostname: string, in_flight: number }> }>(`${base}/stats`)
  t.equal(stats.body.replicas.find(r => r.hostname === 'server-2')?.in_flight, 1, '/stats counts the worker\'s request in flight')
  process.kill(replica, 'SIGCONT')
  const answer = await inFlight
  t.equal(answer.statusCode, 200, 'the request in flight is answered')
  t.equal(answer.headers['x-ringlb-replica'], 'server-2')
  await answer.body.dump()
  const removed = await removal
  t.equal(removed.status, 200)
  t.equal(removed.body.message.N, 2)
  t.ok(removedAt - started >= 1500 && removedAt - started < 20_000, `/rm answered after the request, not at the drain deadline (${removedAt - started} ms)`)
  await until('server-2\'s process is stopped', () => !pidRunning(replica))
})

t.test('a replica that fails a worker\'s request is probed by the primary and replaced, the request retried', async t => {
  // heartbeats far apart: only the worker's report can bring the probe
  const { base, pid } = await startCluster(t, { LB_HEARTBEAT_MS: '600000', LB_HEARTBEAT_TIMEOUT_MS: '300', LB_PROXY_TIMEOUT_MS: '500' })
  const id = await idOwnedBy(base, 'server-0', 5)
  t.ok(id !== undefined, 'an id that server-0 owns')
  const stopped = replicaPid(pid, 'server-0') as number
  process.kill(stopped, 'SIGSTOP')
  t.teardown(() => { if (pidRunning(stopped)) process.kill(stopped, 'SIGKILL') })
  const answer = await request(`${base}/home?id=${id}`)
  t.equal(answer.statusCode, 200, 'retried on the next replica')
  t.not(answer.headers['x-ringlb-replica'], 'server-0')
  await answer.body.dump()
  await until('server-0 is replaced by a new process', () => {
    const now = replicaPid(pid, 'server-0')
    return now !== undefined && now !== stopped
  }, 15_000)
  t.same(await misrouted(base, sixDigitIds(40, 9)), [], 'and routed as the primary\'s ring says')
})

t.test('SIGTERM to the whole process group (a service manager stopping it): workers are not forked again, exit 0', async t => {
  const { primary, pid, output } = await startCluster(t, {}, { ownGroup: true })
  const { replicas, others } = balancerChildren(pid)
  process.kill(-pid, 'SIGTERM')
  const [code] = await once(primary, 'exit')
  t.equal(code, 0)
  t.notMatch(output(), /forking another/, 'no worker forked while closing')
  t.notMatch(output(), /replica failed/, 'the replicas left the group\'s signal to the balancer, which stopped them')
  await until('workers and replicas are gone', () => [...replicas, ...others].every(child => !pidRunning(child)), 10_000)
})

t.test('a worker leaves SIGTERM to its primary while it has one', async t => {
  const { base, pid } = await startCluster(t, {})
  const [worker] = balancerChildren(pid).others
  process.kill(worker, 'SIGTERM')
  await sleep(500)
  t.ok(pidRunning(worker), 'still running')
  t.same(balancerChildren(pid).others.length, 2, 'and nothing forked in its place')
  t.same(await misrouted(base, sixDigitIds(10, 4)), [], 'both workers serve')
})

t.test('workers exit when their primary is killed', async t => {
  const { pid, primary } = await startCluster(t, {})
  const { others } = balancerChildren(pid)
  t.equal(others.length, 2)
  primary.kill('SIGKILL')
  await until('both workers exit', () => others.every(child => !pidRunning(child)), 10_000)
  t.pass('no worker outlives the primary')
})

t.test('a cluster whose port is taken exits 1 instead of forking workers again and again', async t => {
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const port = (taken.address() as AddressInfo).port
  const primary = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, LOG_LEVEL: 'silent', PORT: String(port), HOST: '127.0.0.1', LB_WORKERS: '2' },
    stdio: ['ignore', 'ignore', 'ignore']
  })
  t.teardown(() => { if (primary.exitCode === null) primary.kill('SIGKILL') })
  const [code] = await once(primary, 'exit')
  t.equal(code, 1)
})

t.test('with LB_HASH_KEY, every worker reads the same key as the primary\'s /map_request?key=', async t => {
  const { base } = await startCluster(t, { LB_HASH_KEY: 'cookie:session,header:x-user' })
  const wrong: string[] = []
  for (let i = 0; i < 40; i++) {
    const user = `user-${i}`
    const headers = i % 2 === 0 ? { cookie: `theme=dark; session=${user}` } : { 'x-user': user }
    // a new connection each time: node:cluster deals them to the workers in turn
    const proxied = await request(`${base}/home`, { headers, reset: true })
    await proxied.body.dump()
    const { body: mapped } = await json<{ hostname: string }>(`${base}/map_request?key=${user}`)
    if (proxied.headers['x-ringlb-replica'] !== mapped.hostname) wrong.push(`${user}: from ${String(proxied.headers['x-ringlb-replica'])}, mapped to ${mapped.hostname}`)
  }
  t.same(wrong, [])
  t.ok((await workerStats(base)).every(w => w.requests > 0), 'both workers proxied some of them')
})

t.test('through a cluster\'s workers, WebSocket tunnels go by key, and after /add exactly the moved ones are closed', async t => {
  const { base } = await startCluster(t, { LB_MOVED_TUNNEL_GRACE_MS: '300' })
  const keys = sixDigitIds(24, 16)
  const clients = new Map<number, EchoClient>()
  t.teardown(() => { for (const c of clients.values()) c.socket.terminate() })
  for (const key of keys) {
    const client = await openEcho(base, key)
    clients.set(key, client)
    const owner = (await json<{ hostname: string }>(`${base}/map_request?id=${key}`)).body.hostname
    t.equal(client.replica, owner, `key ${key}: the worker's tunnel reaches /map_request's replica`)
  }
  const codes = new Map<number, number>()
  for (const [key, client] of clients) void client.closed.then(({ code }) => { codes.set(key, code) })
  const added = await json(`${base}/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n": 1}' })
  t.equal(added.status, 200)
  const moved: number[] = []
  for (const key of keys) {
    const owner = (await json<{ hostname: string }>(`${base}/map_request?id=${key}`)).body.hostname
    if (owner !== clients.get(key)?.replica) moved.push(key)
  }
  await until('the moved tunnels closed', () => codes.size >= moved.length, 15_000)
  await sleep(500)
  t.same([...codes.keys()].sort(), moved.sort(), 'the workers closed exactly the moved tunnels')
  t.ok([...codes.values()].every(code => code === 1012))
})
