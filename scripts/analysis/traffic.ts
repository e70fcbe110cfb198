import { Pool } from 'undici'

export interface Tally {
  /** answers per replica, by the x-ringlb-replica header */
  byReplica: Map<string, number>
  /** answers per status code */
  byStatus: Map<number, number>
  /** requests that got no answer at all */
  failures: number
}

/**
 * GETs `path?id=<id>` for every id through `pool`, at most `concurrency` at a
 * time, and tallies who answered. `onDone` is called after each request, for
 * the progress bar; `until` stops the run early once it returns true.
 */
export async function sendAll (pool: Pool, path: string, ids: number[], concurrency: number, onDone: () => void = () => {}, until: () => boolean = () => false): Promise<Tally> {
  const tally: Tally = { byReplica: new Map(), byStatus: new Map(), failures: 0 }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < ids.length && !until()) {
      const id = ids[next++]
      try {
        const { statusCode, headers, body } = await pool.request({ method: 'GET', path: `${path}?id=${id}` })
        await body.dump()
        tally.byStatus.set(statusCode, (tally.byStatus.get(statusCode) ?? 0) + 1)
        const replica = headers['x-ringlb-replica']
        if (typeof replica === 'string') tally.byReplica.set(replica, (tally.byReplica.get(replica) ?? 0) + 1)
      } catch {
        tally.failures++
      }
      onDone()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return tally
}

/** One JSON exchange with the balancer, timed. */
export async function call (pool: Pool, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number, ms: number, text: string }> {
  const started = performance.now()
  const response = await pool.request({
    method,
    path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.body.text()
  return { status: response.statusCode, ms: performance.now() - started, text }
}
