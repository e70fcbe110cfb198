import { request } from 'undici'

/**
 * One health check's outcome: `ok` (2xx or 3xx in time, as HAProxy's `option
 * httpchk` and nginx's health checks count it: a redirect is a server that is
 * up), `leaving` (503: the replica is shutting down and says so, as one in its
 * lame-duck time does; taken out at once, as Envoy does on
 * x-envoy-immediate-health-check-fail), or `missed` (anything else, or
 * nothing in time). The path is LB_HEALTH_PATH.
 */
export type HeartbeatStatus = 'ok' | 'leaving' | 'missed'

export async function heartbeatStatus (url: string, timeoutMs: number, path = '/heartbeat'): Promise<HeartbeatStatus> {
  try {
    const res = await request(`${url}${path}`, { signal: AbortSignal.timeout(timeoutMs) })
    await res.body.dump()
    if (res.statusCode >= 200 && res.statusCode < 400) return 'ok'
    return res.statusCode === 503 ? 'leaving' : 'missed'
  } catch {
    return 'missed'
  }
}

/** One health check: GET <url><path> answered 2xx or 3xx within the timeout. */
export async function heartbeat (url: string, timeoutMs: number, path = '/heartbeat'): Promise<boolean> {
  return await heartbeatStatus(url, timeoutMs, path) === 'ok'
}
