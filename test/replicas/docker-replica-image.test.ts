import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { LABELS } from '../../lib/replicas/drivers/docker.js'
import { TEST_RUN_LABEL, docker, dockerPs, dockerSkipReason, removeRun, testRun } from '../docker-engine.js'
import { build } from '../helper.js'

/*
 * LB_REPLICA_IMAGE: replicas from an image that is not the shared one. The
 * test builds it from the local Node base (docker/make-base.sh, no registry)
 * with a small server of its own, which answers its health check on /healthz
 * only, so LB_HEALTH_PATH is what makes it healthy.
 */

const run = promisify(execFile)
const BASE = 'ringlb-node-base:local'
const SERVER = `
const http = require('node:http')
const { PORT, HOST, SERVER_ID, REPLICA_NAME, GREETING } = process.env
http.createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(204).end(); return }
  if (req.url === '/heartbeat') { res.writeHead(404).end(); return }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ server: SERVER_ID, name: REPLICA_NAME, greeting: GREETING, port: PORT }))
}).listen(Number(PORT), HOST)
process.on('SIGTERM', () => process.exit(0))
`

const skip = await dockerSkipReason()
const json = { 'content-type': 'application/json' }

t.test('replicas from an image of their own, with its entrypoint, LB_REPLICA_ENV and LB_HEALTH_PATH', { skip }, async t => {
  const testrun = testRun()
  const image = `ringlb-test-foreign:${testrun.instance.slice(-8)}`
  const dir = mkdtempSync(join(tmpdir(), 'ringlb-foreign-image-'))
  t.teardown(async () => {
    await removeRun(testrun)
    await docker.getImage(image).remove({ force: true }).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  try {
    await docker.getImage(BASE).inspect()
  } catch {
    await run('sh', [fileURLToPath(new URL('../../docker/make-base.sh', import.meta.url)), BASE])
  }
  writeFileSync(join(dir, 'server.cjs'), SERVER)
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${BASE}\nCOPY server.cjs /srv/server.cjs\nLABEL ${TEST_RUN_LABEL}=${testrun.instance}\nENTRYPOINT ["node", "/srv/server.cjs"]\n`)
  await run('docker', ['build', '-q', '--network', 'host', '-t', image, dir], { env: { ...process.env, DOCKER_BUILDKIT: '0' } })

  const app = await build(t, {
    ...testrun.env,
    LB_REPLICAS: '2',
    LB_REPLICA_IMAGE: image,
    LB_REPLICA_ENV: JSON.stringify({ GREETING: 'hello from an image' }),
    LB_HEALTH_PATH: '/healthz'
  })
  const own = `${LABELS.instance}=${testrun.instance}`
  t.same((await app.inject('/rep')).json(), { N: 2, replicas: ['server-0', 'server-1'] })

  const info = await docker.getContainer(`${testrun.prefix}server-1`).inspect()
  t.equal(info.Config.Image, image, 'the container runs the given image')
  t.same(info.Config.Entrypoint, ['node', '/srv/server.cjs'], 'with its own entrypoint')
  t.notOk(info.Config.Cmd?.includes('dist/replica/server.js'), 'not the built-in replica')
  t.match(info.Config.Labels, { [LABELS.instance]: testrun.instance, [LABELS.hostname]: 'server-1', [LABELS.id]: '1' }, 'the ownership labels')

  for (let id = 0; id < 20; id++) {
    const res = await app.inject(`/whoami?id=${id}`)
    const owner = app.ring.lookup(id)!
    t.equal(res.statusCode, 200)
    t.match(res.json(), { server: String(owner.id), name: owner.hostname, greeting: 'hello from an image', port: new URL(owner.url).port }, `id ${id} answered by its owner's container`)
  }

  const removed = await app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: { n: 1 } })
  t.equal(removed.statusCode, 200, removed.body)
  t.same(await dockerPs(own, true), [`${testrun.prefix}server-0`], 'the removed container is gone')
})
