import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { freePort } from '../lib/free-port.js'

/*
 * LB_ADMIN_PORT with a real `node dist/server.js`: the balancer's own routes
 * answer on the admin port only, and the main port proxies every path, the
 * balancer's own paths included, in one process and as a cluster.
 */

async function startBalancer (t: Test, env: Record<string, string>): Promise<{ main: string, admin: string, child: ChildProcess }> {
  const [port, adminPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')]
  const child = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', PORT: String(port), LB_ADMIN_PORT: String(adminPort), LB_REPLICAS: '2', ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  t.teardown(async () => {
    if (child.exitCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  })
  const admin = `http://127.0.0.1:${adminPort}`
  const main = `http://127.0.0.1:${port}`
  // a busy machine starts a cluster's processes slowly
  const deadline = Date.now() + 90_000
  // a cluster's primary answers on the admin port before its workers listen on the main one
  for (;;) {
    try {
      const ready = await request(`${admin}/ready`)
      await ready.body.text()
      const home = await request(`${main}/home`)
      await home.body.text()
      if (ready.statusCode === 200 && home.statusCode === 200) break
    } catch {}
    if (Date.now() > deadline) throw new Error('the balancer was not ready within 90 s')
    await sleep(100)
  }
  return { main, admin, child }
}

async function get (url: string, init: { method?: 'GET' | 'POST' | 'DELETE', body?: string } = {}): Promise<{ status: number, replica: unknown, body: string }> {
  const res = await request(url, { method: init.method ?? 'GET', body: init.body, headers: init.body === undefined ? {} : { 'content-type': 'application/json' } })
  return { status: res.statusCode, replica: res.headers['x-ringlb-replica'], body: await res.body.text() }
}

const OWN_PATHS = ['/rep', '/heartbeat', '/ready', '/version', '/metrics', '/stats', '/ring', '/docs', '/docs/json', '/dashboard', '/map_request?id=1']

for (const workers of ['1', '2']) {
  t.test(`LB_WORKERS=${workers}: the admin port serves the balancer's routes, the main port proxies every path`, async t => {
    const { main, admin } = await startBalancer(t, { LB_WORKERS: workers })

    for (const path of OWN_PATHS) {
      const proxied = await get(`${main}${path}`)
      // the replica's own answer: /heartbeat is a replica route too, the rest are its 404
      t.match(proxied.replica, /^server-[01]$/, `${path} on the main port is proxied`)
      if (path !== '/heartbeat') t.equal(proxied.status, 404, `${path}: the replica's answer`)
      const own = await get(`${admin}${path}`)
      t.equal(own.status, 200, `${path} on the admin port is the balancer's`)
      t.equal(own.replica, undefined)
    }
    const add = await get(`${main}/add`, { method: 'POST', body: '{"n":1}' })
    t.match(add.replica, /^server-[01]$/, 'POST /add on the main port goes to a replica')
    t.same(JSON.parse((await get(`${admin}/rep`)).body), { N: 2, replicas: ['server-0', 'server-1'] }, 'and adds nothing')

    const home = await get(`${admin}/home`)
    t.equal(home.status, 404, 'the admin port proxies nothing')
    t.same(JSON.parse(home.body), { message: '<Error> no route for GET /home', status: 'failure' })
    t.match(JSON.parse((await get(`${main}/home?id=5`)).body), { message: /^Hello from Server: [01]$/ })

    const added = await get(`${admin}/add`, { method: 'POST', body: '{"n":1}' })
    t.equal(added.status, 200, 'the admin port changes the replica set')
    t.same(JSON.parse(added.body).message, { N: 3, replicas: ['server-0', 'server-1', 'server-2'] })
    t.match((await get(`${admin}/metrics`)).body, /^ringlb_build_info\{version="[^"]+",node="v\d+/m, 'build info in the metrics')
  })
}
