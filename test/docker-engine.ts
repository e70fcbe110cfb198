import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Docker from 'dockerode'
import { LABELS } from '../lib/replicas/drivers/docker.js'

/*
 * What the Docker suites share: the engine, the image, a per-run identity that
 * labels and names everything a run creates, and cleanup by that label only.
 */

const run = promisify(execFile)

export const SOCKET = '/var/run/docker.sock'
/** this checkout's own tag of the shared image, so that checkouts sharing an engine never test each other's build */
export const IMAGE = `ringlb:test-${createHash('sha1').update(fileURLToPath(new URL('..', import.meta.url))).digest('hex').slice(0, 10)}`
export const docker = new Docker({ socketPath: SOCKET })

/** The label on containers a test creates itself (the "foreign" ones), next to the balancer's own instance label. */
export const TEST_RUN_LABEL = 'ringlb.test-run'

export function underCI (): boolean {
  const ci = process.env.CI
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0'
}

/**
 * Why the Docker suites cannot run here, or false when they can. Under CI
 * they must run, so a missing engine or image fails the suite instead.
 */
export async function dockerSkipReason (): Promise<string | false> {
  let reason: string
  try {
    await docker.ping()
    try {
      await docker.getImage(IMAGE).inspect()
      return false
    } catch {
      reason = `the image ${IMAGE} is missing (make build RINGLB_IMAGE=${IMAGE})`
    }
  } catch (err) {
    reason = `no Docker engine answers at ${SOCKET} (${(err as Error).message})`
  }
  if (underCI()) {
    throw new Error(`the Docker suite must run under CI, but ${reason}`)
  }
  return reason
}

export interface TestRun {
  /** the balancer instance of this run: its containers carry it as their ringlb.instance label */
  instance: string
  /** container name prefix of this run, so runs never clash on names */
  prefix: string
  /** env for a balancer of this run, on host networking */
  env: Record<string, string>
}

export function testRun (): TestRun {
  const id = randomBytes(4).toString('hex')
  const instance = `ringlb-test-${id}`
  const prefix = `t${id}-`
  return {
    instance,
    prefix,
    env: { LB_DRIVER: 'docker', LB_INSTANCE: instance, LB_CONTAINER_PREFIX: prefix, LB_NETWORK: 'host', LB_IMAGE: IMAGE }
  }
}

/** `docker ps` as a user runs it: names of the running containers with a label. */
export async function dockerPs (label: string, all = false): Promise<string[]> {
  const { stdout } = await run('docker', ['ps', ...(all ? ['-a'] : []), '--filter', `label=${label}`, '--format', '{{.Names}}'])
  return stdout.split('\n').filter(Boolean).sort()
}

export async function dockerCli (...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args)
  return stdout.trim()
}

/** Removes every container of a run: the balancer's (by instance) and the test's own (by run label). */
export async function removeRun (testRun: TestRun): Promise<void> {
  for (const label of [`${LABELS.instance}=${testRun.instance}`, `${TEST_RUN_LABEL}=${testRun.instance}`]) {
    const containers = await docker.listContainers({ all: true, filters: { label: [label] } })
    await Promise.all(containers.map(async c => await docker.getContainer(c.Id).remove({ force: true }).catch(() => {})))
  }
}

/**
 * A container the balancer did not start, from the same image, named like the
 * run's replicas and labelled as another balancer's replica: it looks as much
 * like one of ours as a container can without being one.
 */
export async function startForeign (testRun: TestRun, hostname: string): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name: `${testRun.prefix}${hostname}`,
    Image: IMAGE,
    Cmd: ['node', 'dist/replica/server.js'],
    Labels: { [TEST_RUN_LABEL]: testRun.instance, [LABELS.instance]: `${testRun.instance}-other`, [LABELS.hostname]: hostname, [LABELS.id]: '0' }
  })
  await container.start()
  return container
}
