import { request } from 'undici'

/** One heartbeat: GET <url>/heartbeat answered 200 within the timeout. */
export async function heartbeat (url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await request(`${url}/heartbeat`, { signal: AbortSignal.timeout(timeoutMs) })
    await res.body.dump()
    return res.statusCode === 200
  } catch {
    return false
  }
}
