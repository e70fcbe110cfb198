import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import ringlb, { options } from '../../app.js'
import type { Driver, ReplicaHandle, ReplicaSpec } from '../../lib/replicas/drivers/driver.js'
import { startReference } from '../bench/upstreams.js'
import { stop } from '../lib/processes.js'
import { RecordingUpstream } from './upstream.js'

/** A proxy under test, with the recording upstream that is its only replica. */
export interface Target {
  name: string
  /** ringlb itself, whose faults fail the run (nginx and HAProxy are the yardstick) */
  own: boolean
  port: number
  upstream: RecordingUpstream
  close: () => Promise<void>
}

/** The process driver's role, played by an upstream that is already running: one replica, at `url`. */
class FixedDriver implements Driver {
  readonly name = 'fixed'
  private handle: ReplicaHandle | undefined
  constructor (private readonly url: string) {}
  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    this.handle = { ...spec, url: this.url }
    return this.handle
  }

  async remove (): Promise<void> { this.handle = undefined }
  async list (): Promise<ReplicaHandle[]> { return this.handle === undefined ? [] : [this.handle] }
  onExit (): void {}
  async close (): Promise<void> {}
}

/** ringlb in this process, its fast path on or off, over one recording upstream. */
export async function ringlbTarget (fastPath: boolean): Promise<Target> {
  const upstream = new RecordingUpstream()
  const upstreamPort = await upstream.listen()
  const app = Fastify(options)
  await app.register(fp(ringlb), {
    driver: new FixedDriver(`http://127.0.0.1:${upstreamPort}`),
    env: { LOG_LEVEL: 'silent', LB_REPLICAS: '1', LB_FAST_PATH: String(fastPath), LB_PROXY_TIMEOUT_MS: '5000' }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  return {
    name: fastPath ? 'ringlb fast' : 'ringlb undici',
    own: true,
    port,
    upstream,
    close: async () => {
      await app.close()
      await upstream.close()
    }
  }
}

/** nginx (`hash $arg_id consistent`) or HAProxy (`balance url_param id`) over one recording upstream, or undefined when not installed. */
export async function referenceTarget (name: 'nginx' | 'haproxy', dir: string): Promise<Target | undefined> {
  const upstream = new RecordingUpstream()
  const upstreamPort = await upstream.listen()
  let started: { child: ChildProcess, url: string } | undefined
  try {
    started = await startReference(name, dir, [upstreamPort])
  } finally {
    if (started === undefined) await upstream.close()
  }
  if (started === undefined) return undefined
  const { child } = started
  return {
    name,
    own: false,
    port: Number(new URL(started.url).port),
    upstream,
    close: async () => {
      await stop(child)
      await upstream.close()
    }
  }
}
