import autocannon from 'autocannon'

export interface Measurement {
  /** requests per second, mean over the run */
  rps: number
  /** latency percentiles in ms */
  p50: number
  p99: number
  /** connection errors, timeouts and non-2xx answers */
  errors: number
}

export interface LoadOptions {
  connections: number
  /** seconds */
  duration: number
  /** the path to request; `?id=<random 6-digit>` is appended to every request */
  path?: string
}

/** Runs autocannon against `url` with a fresh random 6-digit id on every request. */
export async function measure (url: string, options: LoadOptions): Promise<Measurement> {
  const path = options.path ?? '/home'
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.duration,
    requests: [{
      setupRequest: (request) => ({ ...request, path: `${path}?id=${100000 + Math.floor(Math.random() * 900000)}` })
    }]
  })
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Chaos load: autocannon on /home?id=<random 6 digits> with a 10 s client
 * timeout, bounded by `duration`. The instance is for listening to each
 * answer; the result is awaited after the failures are made (a setup error
 * is held until then rather than left unhandled).
 */
export function randomIdLoad (url: string, options: { connections: number, duration: number }): { instance: autocannon.Instance, result: Promise<autocannon.Result> } {
  let instance!: autocannon.Instance
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({
      url,
      connections: options.connections,
      duration: options.duration,
      timeout: 10,
      requests: [{ setupRequest: request => ({ ...request, path: `/home?id=${100000 + Math.floor(Math.random() * 900000)}` }) }]
    }, (err, res) => { if (err !== null && err !== undefined) reject(err); else resolve(res) })
  })
  result.catch(() => {})
  return { instance, result }
}
