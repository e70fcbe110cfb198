import { spawnSync } from 'node:child_process'
import t from 'tap'
import { loadConfig, swarmConstraints } from '../lib/config.js'

t.test('defaults are the contract\'s', async t => {
  const c = loadConfig({})
  t.equal(c.PORT, 5000)
  t.equal(c.HOST, '0.0.0.0')
  t.equal(c.LB_DRIVER, 'process')
  t.equal(c.LB_REPLICAS, 3)
  t.equal(c.LB_MAX_REPLICAS, 50)
  t.equal(c.LB_HASH, 'maglev')
  t.equal(c.LB_SLOTS, 512)
  t.equal(c.LB_VNODES, 9, 'K = log2(512)')
  t.equal(c.LB_MAGLEV_TABLE, 65537)
  t.equal(c.LB_ADMIN_TOKEN, undefined)
})

t.test('values are read and typed', async t => {
  const c = loadConfig({ PORT: '8080', LB_HASH: 'assignment', LB_SLOTS: '1024', LB_BALANCE_FACTOR: '1.25', LB_ADMIN_TOKEN: 's3cret' })
  t.equal(c.PORT, 8080)
  t.equal(c.LB_HASH, 'assignment')
  t.equal(c.LB_VNODES, 10, 'K follows the slot count')
  t.equal(c.LB_BALANCE_FACTOR, 1.25)
  t.equal(c.LB_ADMIN_TOKEN, 's3cret')
})

t.test('a bad value throws a message naming the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ LB_HASH: 'crc32' }, /LB_HASH/],
    [{ LB_DRIVER: 'k8s' }, /LB_DRIVER/],
    [{ LB_REPLICAS: '-1' }, /LB_REPLICAS/],
    [{ LB_REPLICAS: '60' }, /LB_REPLICAS \(60\) is above LB_MAX_REPLICAS \(50\)/],
    [{ LB_MAGLEV_TABLE: '65536' }, /LB_MAGLEV_TABLE must be a prime/],
    [{ LB_RING_VNODES: '100' }, /LB_RING_VNODES/],
    [{ LB_HASH: 'assignment', LB_SLOTS: '64' }, /LB_SLOTS \(64\) cannot hold LB_MAX_REPLICAS/],
    [{ LB_BALANCE_FACTOR: 'lots' }, /LB_BALANCE_FACTOR/],
    [{ LB_WORKERS: '0' }, /LB_WORKERS/],
    [{ LB_WORKERS: 'two' }, /LB_WORKERS/]
  ]
  for (const [env, message] of cases) t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
})

t.test('the server stops at start with the message when a value is bad', async t => {
  const run = spawnSync(process.execPath, ['dist/server.js'], { env: { ...process.env, LB_HASH: 'crc32' }, encoding: 'utf8', timeout: 20_000 })
  t.equal(run.status, 1)
  t.match(run.stderr, /ringlb: invalid configuration: .*LB_HASH/)
})

t.test('LB_DRIVER=swarm: settings read, an overlay network required, a bad poll interval named', async t => {
  const c = loadConfig({ LB_DRIVER: 'swarm', LB_NETWORK: 'ringlb-swarm', LB_SWARM_POLL_MS: '250', LB_SWARM_CONSTRAINTS: ' node.role==worker , node.labels.zone==a,' })
  t.equal(c.LB_DRIVER, 'swarm')
  t.equal(c.LB_SWARM_POLL_MS, 250)
  t.same(swarmConstraints(c), ['node.role==worker', 'node.labels.zone==a'])
  t.same(swarmConstraints(loadConfig({})), [], 'none by default')
  t.equal(loadConfig({}).LB_SWARM_POLL_MS, 500)
  t.throws(() => loadConfig({ LB_DRIVER: 'swarm' }), { name: 'ConfigError', message: /LB_DRIVER=swarm needs LB_NETWORK to name an attachable overlay network/ })
  t.throws(() => loadConfig({ LB_DRIVER: 'swarm', LB_NETWORK: 'x', LB_SWARM_POLL_MS: '10' }), { name: 'ConfigError', message: /LB_SWARM_POLL_MS/ })
  t.throws(() => loadConfig({ LB_DRIVER: 'kubernetes' }), { message: /LB_DRIVER must be one of process, docker, swarm/ })
})
