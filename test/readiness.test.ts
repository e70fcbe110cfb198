import { readFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import t, { type Test } from 'tap'
import ringlb, { options } from '../app.js'
import { build, testEnv } from './helper.js'
import { InProcessDriver } from './support/in-process-driver.js'

const json = { 'content-type': 'application/json' }
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

t.test('GET /ready is 503 in the error shape while no replica is in the ring, 200 once one is', async t => {
  const app = await build(t, { LB_REPLICAS: '0' }, { driver: new InProcessDriver() })
  const empty = await app.inject('/ready')
  t.equal(empty.statusCode, 503)
  t.same(empty.json(), { message: '<Error> not ready: no replica is in the ring', status: 'failure' })
  t.equal((await app.inject('/heartbeat')).statusCode, 200, '/heartbeat is liveness: unchanged')

  t.equal((await app.inject({ method: 'POST', url: '/add', headers: json, payload: '{"n":2}' })).statusCode, 200)
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', replicas: 2 })
  t.equal((await app.inject({ method: 'HEAD', url: '/ready' })).statusCode, 200, 'HEAD too, for probes that send it')

  t.equal((await app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: '{"n":2}' })).statusCode, 200)
  t.equal((await app.inject('/ready')).statusCode, 503, 'not ready again once the ring is empty')
})

t.test('GET /version answers the package\'s version and Node\'s', async t => {
  const app = await build(t, { LB_REPLICAS: '0' }, { driver: new InProcessDriver() })
  const res = await app.inject('/version')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { version: pkg.version, node: process.version })
})

type LogLine = { level: number, msg: string, req?: { url: string }, replicas?: string[] }

/** The balancer with a logger at `level` whose lines the test reads. */
async function logged (t: Test, level: string): Promise<{ app: FastifyInstance, lines: LogLine[] }> {
  const lines: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    }
  })
  const app = Fastify({ ...options, logger: { level, stream } })
  await app.register(fp(ringlb), { env: testEnv({ LB_REPLICAS: '1', LOG_LEVEL: level }), driver: new InProcessDriver() })
  t.teardown(async () => await app.close())
  await app.ready()
  return { app, lines }
}

const requested = (lines: LogLine[]): string[] => [...new Set(lines.flatMap(line => line.req === undefined ? [] : [line.req.url]))]

t.test('reads of the balancer\'s own routes are logged at debug, changes at info', async t => {
  const { app, lines } = await logged(t, 'info')
  const reads = ['/heartbeat', '/ready', '/version', '/rep', '/map_request?id=7', '/stats', '/ring', '/metrics', '/dashboard', '/dashboard/app.js', '/docs/json']
  for (const url of reads) t.equal((await app.inject(url)).statusCode, 200, url)
  t.same(requested(lines), [], 'no request line for any read at info')

  t.equal((await app.inject({ method: 'POST', url: '/add', headers: json, payload: '{"n":1,"hostnames":["extra"]}' })).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: '{"n":1,"hostnames":["extra"]}' })).statusCode, 200)
  t.same(requested(lines), ['/add', '/rm'], 'the changes are')
  t.same(lines.filter(line => line.msg === 'replicas added' || line.msg === 'replicas removed').map(l => [l.msg, l.replicas]),
    [['replicas added', ['extra']], ['replicas removed', ['extra']]], 'with a line saying what changed')
})

t.test('LOG_LEVEL=debug shows the reads too', async t => {
  const { app, lines } = await logged(t, 'debug')
  for (const url of ['/rep', '/stats']) t.equal((await app.inject(url)).statusCode, 200, url)
  t.same(requested(lines), ['/rep', '/stats'])
})
