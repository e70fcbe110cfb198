import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig, swarmConstraints } from '../lib/config.js'
import { makeCertificate } from '../scripts/lib/certificate.js'

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

t.test('your own service: command, image, environment, health path and static upstreams are read', async t => {
  const c = loadConfig({
    LB_REPLICA_COMMAND: 'exec python3 -m http.server "$PORT"',
    LB_REPLICA_IMAGE: 'nginx:alpine',
    LB_REPLICA_PORT: '80',
    LB_REPLICA_ENV: '{"CACHE_MB": "64", "MODE": ""}',
    LB_HEALTH_PATH: '/healthz?deep=1'
  })
  t.equal(c.LB_REPLICA_COMMAND, 'exec python3 -m http.server "$PORT"')
  t.equal(c.LB_REPLICA_IMAGE, 'nginx:alpine')
  t.equal(c.LB_REPLICA_PORT, 80)
  t.same(c.LB_REPLICA_ENV, { CACHE_MB: '64', MODE: '' })
  t.equal(c.LB_HEALTH_PATH, '/healthz?deep=1')
  const d = loadConfig({})
  t.equal(d.LB_REPLICA_COMMAND, undefined, 'unset: the built-in replica')
  t.equal(d.LB_REPLICA_IMAGE, undefined, 'unset: the shared image')
  t.equal(d.LB_REPLICA_PORT, 5000)
  t.same(d.LB_REPLICA_ENV, {})
  t.equal(d.LB_HEALTH_PATH, '/heartbeat')
  t.same(d.LB_UPSTREAMS, [])
  const s = loadConfig({ LB_DRIVER: 'static', LB_UPSTREAMS: ' cache-a=http://127.0.0.1:9001/ , http://localhost,http://10.0.0.7:8080' })
  t.same(s.LB_UPSTREAMS, [
    { hostname: 'cache-a', url: 'http://127.0.0.1:9001' },
    { hostname: 'upstream-1', url: 'http://localhost' },
    { hostname: 'upstream-2', url: 'http://10.0.0.7:8080' }
  ], 'named, or named by position; origins normalised')
  t.equal(loadConfig({ LB_HASH: 'round-robin' }).LB_HASH, 'round-robin')
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
    [{ LB_WORKERS: 'two' }, /LB_WORKERS/],
    [{ LB_REPLICA_ENV: '{"A": 1' }, /LB_REPLICA_ENV is not valid JSON/],
    [{ LB_REPLICA_ENV: '["A"]' }, /LB_REPLICA_ENV must be a JSON object of strings/],
    [{ LB_REPLICA_ENV: '{"A": 1}' }, /LB_REPLICA_ENV has A=1: every value must be a string/],
    [{ LB_REPLICA_ENV: '{"A B": "1"}' }, /LB_REPLICA_ENV has 'A B', which is not an environment variable name/],
    [{ LB_REPLICA_PORT: '0' }, /LB_REPLICA_PORT/],
    [{ LB_REPLICA_COMMAND: '' }, /LB_REPLICA_COMMAND/],
    [{ LB_HEALTH_PATH: 'healthz' }, /LB_HEALTH_PATH/],
    [{ LB_HEALTH_PATH: '/a b' }, /LB_HEALTH_PATH/],
    [{ LB_DRIVER: 'static' }, /LB_DRIVER=static needs LB_UPSTREAMS/],
    [{ LB_UPSTREAMS: 'http://127.0.0.1:9001' }, /LB_UPSTREAMS is only read with LB_DRIVER=static/],
    [{ LB_DRIVER: 'static', LB_UPSTREAMS: 'https://a.example:443' }, /LB_UPSTREAMS has 'https:\/\/a.example:443' is not an http:\/\/ URL/],
    [{ LB_DRIVER: 'static', LB_UPSTREAMS: 'http://127.0.0.1:9001/api' }, /LB_UPSTREAMS has .* has a path/],
    [{ LB_DRIVER: 'static', LB_UPSTREAMS: 'a=http://127.0.0.1:9001,a=http://127.0.0.1:9002' }, /LB_UPSTREAMS names 'a' twice/],
    [{ LB_DRIVER: 'static', LB_UPSTREAMS: 'http://127.0.0.1:9001,http://127.0.0.1:9001/' }, /LB_UPSTREAMS lists http:\/\/127.0.0.1:9001 twice/],
    [{ LB_DRIVER: 'static', LB_UPSTREAMS: 'http://127.0.0.1:9001,,http://127.0.0.1:9002' }, /LB_UPSTREAMS has an empty entry at position 2/],
    [{ LB_DRIVER: 'static', LB_UPSTREAMS: '-x=http://127.0.0.1:9001' }, /LB_UPSTREAMS has the name '-x'/],
    [{ LB_DRIVER: 'static', LB_UPSTREAMS: 'http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3', LB_MAX_REPLICAS: '2', LB_REPLICAS: '2' }, /LB_UPSTREAMS names 3 servers, above LB_MAX_REPLICAS \(2\)/]
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

t.test('the front door\'s settings have defaults and are read', async t => {
  const defaults = loadConfig({})
  t.same(defaults.LB_UPGRADE_PROTOCOLS, ['websocket'])
  t.equal(defaults.LB_CLOSE_MOVED_TUNNELS, true)
  t.equal(defaults.LB_MOVED_TUNNEL_GRACE_MS, 1000)
  t.equal(defaults.tls, undefined, 'no TLS unless asked')
  const set = loadConfig({ LB_UPGRADE_PROTOCOLS: 'WebSocket, my-proto,websocket', LB_CLOSE_MOVED_TUNNELS: 'false', LB_MOVED_TUNNEL_GRACE_MS: '0' })
  t.same(set.LB_UPGRADE_PROTOCOLS, ['websocket', 'my-proto'], 'lower case, once each')
  t.equal(set.LB_CLOSE_MOVED_TUNNELS, false)
  t.equal(set.LB_MOVED_TUNNEL_GRACE_MS, 0)
  t.same(loadConfig({ LB_UPGRADE_PROTOCOLS: '' }).LB_UPGRADE_PROTOCOLS, [], 'empty: no upgrade is tunnelled')
})

t.test('a bad front-door setting throws a message naming the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ LB_UPGRADE_PROTOCOLS: 'websocket,h2c' }, /LB_UPGRADE_PROTOCOLS may not list h2c/],
    [{ LB_UPGRADE_PROTOCOLS: 'H2C' }, /LB_UPGRADE_PROTOCOLS may not list h2c/],
    [{ LB_UPGRADE_PROTOCOLS: 'web socket' }, /LB_UPGRADE_PROTOCOLS has 'web socket'/],
    [{ LB_MOVED_TUNNEL_GRACE_MS: '-1' }, /LB_MOVED_TUNNEL_GRACE_MS/],
    [{ LB_MOVED_TUNNEL_GRACE_MS: 'soon' }, /LB_MOVED_TUNNEL_GRACE_MS/],
    [{ LB_CLOSE_MOVED_TUNNELS: 'maybe' }, /LB_CLOSE_MOVED_TUNNELS/]
  ]
  for (const [env, message] of cases) t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
})

t.test('TLS files are read and checked at start, and a bad one is named', async t => {
  const certificate = makeCertificate()
  t.teardown(certificate.remove)
  const { cert, key, otherKey, dir } = certificate
  const tls = loadConfig({ LB_TLS_CERT: cert, LB_TLS_KEY: key }).tls
  t.match(tls?.cert.toString(), /^-----BEGIN CERTIFICATE-----/)
  t.match(tls?.key.toString(), /^-----BEGIN PRIVATE KEY-----/)
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ LB_TLS_CERT: cert }, /LB_TLS_CERT is set but LB_TLS_KEY is not/],
    [{ LB_TLS_KEY: key }, /LB_TLS_KEY is set but LB_TLS_CERT is not/],
    [{ LB_TLS_CERT: join(dir, 'missing.pem'), LB_TLS_KEY: key }, /LB_TLS_CERT \(.*missing\.pem\) cannot be read: ENOENT/],
    [{ LB_TLS_CERT: cert, LB_TLS_KEY: join(dir, 'missing.pem') }, /LB_TLS_KEY \(.*missing\.pem\) cannot be read: ENOENT/],
    [{ LB_TLS_CERT: key, LB_TLS_KEY: key }, /LB_TLS_CERT \(.*key\.pem\) is not a PEM certificate/],
    [{ LB_TLS_CERT: cert, LB_TLS_KEY: cert }, /LB_TLS_KEY \(.*cert\.pem\) is not a PEM private key/],
    [{ LB_TLS_CERT: cert, LB_TLS_KEY: otherKey }, /LB_TLS_KEY \(.*other-key\.pem\) is not the private key of the certificate in LB_TLS_CERT/]
  ]
  for (const [env, message] of cases) t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
})

t.test('the server stops at start naming LB_TLS_KEY when its file is missing', async t => {
  const certificate = makeCertificate()
  t.teardown(certificate.remove)
  const run = spawnSync(process.execPath, ['dist/server.js'], {
    env: { ...process.env, LB_TLS_CERT: certificate.cert, LB_TLS_KEY: join(certificate.dir, 'nope.pem') },
    encoding: 'utf8',
    timeout: 20_000
  })
  t.equal(run.status, 1)
  t.match(run.stderr, /ringlb: invalid configuration: LB_TLS_KEY \(.*nope\.pem\) cannot be read: ENOENT/)
})
