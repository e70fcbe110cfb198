import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'undici'
import { sixDigitIds } from '../ids.js'
import type { ReplicaControl } from './replicas.js'
import { type Tally, call, sendAll } from './traffic.js'

export interface EndpointRow { request: string, status: number, ms: number, answer: string }

/** A-3, part one: every balancer endpoint once, with its answer; /home is checked against /map_request. */
export async function exerciseEndpoints (pool: Pool): Promise<EndpointRow[]> {
  const rows: EndpointRow[] = []
  const record = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<string> => {
    const { status, ms, text } = await call(pool, method, path, body)
    rows.push({ request: `${method} ${path}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`, status, ms, answer: text })
    if (status !== 200) throw new Error(`${method} ${path} answered ${status}: ${text}`)
    return text
  }
  await record('GET', '/heartbeat')
  await record('GET', '/rep')
  await record('POST', '/add', { n: 1, hostnames: ['a3-extra'] })
  const mapped = JSON.parse(await record('GET', '/map_request?id=123456')) as { hostname: string }
  const started = performance.now()
  const { statusCode, headers, body } = await pool.request({ method: 'GET', path: '/home?id=123456' })
  const greeting = await body.text()
  const servedBy = String(headers['x-ringlb-replica'])
  rows.push({ request: 'GET /home?id=123456', status: statusCode, ms: performance.now() - started, answer: `${greeting} (x-ringlb-replica: ${servedBy})` })
  if (servedBy !== mapped.hostname) throw new Error(`/map_request named ${mapped.hostname} but /home was served by ${servedBy}`)
  await record('DELETE', '/rm', { n: 1, hostnames: ['a3-extra'] })
  await record('GET', '/rep')
  return rows
}

export interface Recovery {
  victim: string
  /** ms from SIGKILL until /rep no longer lists the victim */
  leftRingMs: number
  /** ms from SIGKILL until /rep lists it again (a new process under the same name and id) */
  backInRingMs: number
  /** the /home traffic sent while it happened */
  traffic: Tally
  requests: number
}

async function listed (pool: Pool, hostname: string): Promise<boolean> {
  const { text } = await call(pool, 'GET', '/rep')
  return (JSON.parse(text) as { replicas: string[] }).replicas.includes(hostname)
}

/**
 * A-3, part two: SIGKILL a replica while /home traffic flows, and time how long
 * until it leaves the ring and until its replacement is back in /rep.
 */
export async function recoverFromFailure (pool: Pool, traffic: Pool, control: ReplicaControl, victim: string, timeoutMs = 60_000): Promise<Recovery> {
  let done = false
  let requests = 0
  const load = sendAll(traffic, '/home', sixDigitIds(1_000_000, 7), 8, () => { requests++ }, () => done)
  try {
    await sleep(300)
    const killed = performance.now()
    control.kill(victim)
    const deadline = killed + timeoutMs
    while (await listed(pool, victim)) {
      if (performance.now() > deadline) throw new Error(`${victim} was still in the ring ${timeoutMs} ms after SIGKILL`)
      await sleep(2)
    }
    const leftRingMs = performance.now() - killed
    while (!(await listed(pool, victim))) {
      if (performance.now() > deadline) throw new Error(`${victim} was not back in the ring ${timeoutMs} ms after SIGKILL`)
      await sleep(5)
    }
    const backInRingMs = performance.now() - killed
    await sleep(300)
    done = true
    return { victim, leftRingMs, backInRingMs, traffic: await load, requests }
  } finally {
    done = true
    await load
  }
}
