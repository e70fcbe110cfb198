import { request } from 'undici'

/**
 * One health check: GET <url><path> answered 2xx or 3xx within the timeout,
 * as HAProxy's `option httpchk` and nginx's health checks count it (a
 * redirect is a server that is up). The path is LB_HEALTH_PATH.
 */
export async function heartbeat (url: string, timeoutMs: number, path = '/heartbeat'): Promise<boolean> {
  try {
    const res = await request(`${url}${path}`, { signal: AbortSignal.timeout(timeoutMs) })
    await res.body.dump()
    return res.statusCode >= 200 && res.statusCode < 400
  } catch {
    return false
  }
}
