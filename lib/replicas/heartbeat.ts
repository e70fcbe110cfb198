import { request } from 'undici'

/**
 * One heartbeat's outcome: `ok` (200 in time), `leaving` (the replica answered
 * 503: it is shutting down and says so, as a replica in its lame-duck time
 * does; taken out at once, as Envoy does on x-envoy-immediate-health-check-fail),
 * or `missed` (anything else, or nothing in time).
 */
export type HeartbeatStatus = 'ok' | 'leaving' | 'missed'

export async function heartbeatStatus (url: string, timeoutMs: number): Promise<HeartbeatStatus> {
  try {
    const res = await request(`${url}/heartbeat`, { signal: AbortSignal.timeout(timeoutMs) })
    await res.body.dump()
    return res.statusCode === 200 ? 'ok' : res.statusCode === 503 ? 'leaving' : 'missed'
  } catch {
    return 'missed'
  }
}

/** One heartbeat: GET <url>/heartbeat answered 200 within the timeout. */
export async function heartbeat (url: string, timeoutMs: number): Promise<boolean> {
  return await heartbeatStatus(url, timeoutMs) === 'ok'
}
