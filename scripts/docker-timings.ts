import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import Docker from 'dockerode'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { request } from 'undici'
import ringlb, { options } from '../app.js'
import { type DockerDriver, LABELS } from '../lib/replicas/drivers/docker.js'

/*
 * `npm run docker-timings`: how long the docker driver takes to add a replica
 * (`POST /add {"n":1}` until it answers) and to replace one killed with
 * `docker kill` (until it is back in /rep in a new container), with the
 * balancer on the host and replicas on host networking, one replica per
 * round (`npm run docker-timings -- 10` for 10 rounds). Needs the image
 * (make build); everything it starts carries a label of its own and is removed
 * at the end.
 */

const ROUNDS = Number(process.argv[2] ?? 5)
const instance = `ringlb-timings-${randomBytes(4).toString('hex')}`
const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const exec = promisify(execFile)

const app = Fastify({ ...options, logger: false })
await app.register(fp(ringlb), {
  env: { LB_DRIVER: 'docker', LB_NETWORK: 'host', LB_INSTANCE: instance, LB_CONTAINER_PREFIX: `${instance}-`, LB_REPLICAS: String(ROUNDS), LOG_LEVEL: 'silent' }
})
const address = await app.listen({ port: 0, host: '127.0.0.1' })

async function call (path: string, method: 'GET' | 'POST' | 'DELETE' = 'GET', body?: object): Promise<{ status: number, json: any }> {
  const res = await request(`${address}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.statusCode, json: await res.body.json() }
}

const summary = (ms: number[]): string => {
  const sorted = [...ms].sort((a, b) => a - b)
  return `median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms, min ${sorted[0].toFixed(0)}, max ${sorted[sorted.length - 1].toFixed(0)} (${ms.map(m => m.toFixed(0)).join(', ')})`
}

try {
  const adds: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now()
    const added = await call('/add', 'POST', { n: 1 })
    adds.push(performance.now() - started)
    if (added.status !== 200) throw new Error(`/add answered ${added.status}: ${JSON.stringify(added.json)}`)
    await call('/rm', 'DELETE', { n: 1 })
  }

  const driver = app.replicas.driver as DockerDriver
  const detections: number[] = []
  const replacements: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    // each replica is killed once: a second death soon after a start would be a crash loop, which backs off
    const hostname = `server-${i}`
    const before = driver.containerId(hostname)
    let detected = 0
    const onLeave = (replica: { hostname: string }): void => { if (replica.hostname === hostname) detected = performance.now() }
    app.replicas.on('leave', onLeave)
    const killed = performance.now()
    await exec('docker', ['kill', `${instance}-${hostname}`])
    for (;;) {
      const now = driver.containerId(hostname)
      if (now !== undefined && now !== before && (await call('/rep')).json.replicas.includes(hostname)) break
      if (performance.now() - killed > 30_000) throw new Error(`${hostname} was not replaced within 30 s`)
      await sleep(5)
    }
    replacements.push(performance.now() - killed)
    detections.push(detected - killed)
    app.replicas.off('leave', onLeave)
  }

  console.log(`docker driver, host networking, ${ROUNDS} rounds`)
  console.log(`POST /add {"n":1} until it answers:          ${summary(adds)}`)
  console.log(`docker kill until out of the ring:           ${summary(detections)}`)
  console.log(`docker kill until back in /rep (new container): ${summary(replacements)}`)
} finally {
  await app.close()
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.instance}=${instance}`] } })
  await Promise.all(containers.map(async c => await docker.getContainer(c.Id).remove({ force: true })))
}
