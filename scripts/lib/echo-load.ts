import WebSocket from 'ws'
import type { LoadOptions, Measurement } from './load.js'

/** Round trips recorded at most, so that a long run's memory stays bounded; later ones are counted only. */
const MAX_SAMPLES = 2_000_000

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/**
 * Drives `url`'s /echo WebSocket as autocannon drives HTTP: `connections`
 * WebSockets (each with its own random 6-digit `?id=`, so the balancer spreads
 * them), each sending a 64-byte message and the next one as soon as its echo
 * is back, for `duration` seconds. Reports echoed messages per second (in
 * `rps`), round-trip percentiles in ms, and errors (sockets that failed or
 * closed early, echoes that differ).
 */
export async function measureEcho (url: string, options: LoadOptions): Promise<Measurement> {
  const base = url.replace(/^http/, 'ws')
  const payload = Buffer.alloc(64, 'x')
  const samples = new Float64Array(MAX_SAMPLES)
  let count = 0
  let errors = 0
  let open = 0
  let stopping = false
  const sockets: WebSocket[] = []
  const started = await new Promise<number>((resolve) => {
    for (let i = 0; i < options.connections; i++) {
      const id = 100000 + Math.floor(Math.random() * 900000)
      // a self-signed certificate (bench targets over TLS) is this run's own
      const socket = new WebSocket(`${base}/echo?id=${id}`, { rejectUnauthorized: false, perMessageDeflate: false })
      sockets.push(socket)
      let sentAt = 0
      const send = (): void => {
        sentAt = performance.now()
        socket.send(payload)
      }
      socket.on('open', () => {
        if (++open === options.connections) resolve(performance.now())
      })
      socket.on('message', (data: Buffer) => {
        if (data.length !== payload.length) errors++
        if (count < MAX_SAMPLES) samples[count] = performance.now() - sentAt
        count++
        send()
      })
      socket.on('error', () => { errors++ })
      socket.on('close', () => { if (!stopping) errors++ })
      socket.once('open', send)
    }
    // sockets that never open count as errors; the run starts without them
    setTimeout(() => { resolve(performance.now()) }, 10_000).unref()
  })
  const countAtStart = count
  await new Promise(resolve => setTimeout(resolve, options.duration * 1000))
  stopping = true
  const elapsed = (performance.now() - started) / 1000
  const measured = count - countAtStart
  for (const socket of sockets) socket.terminate()
  errors += options.connections - open
  const sorted = samples.slice(countAtStart, Math.min(count, MAX_SAMPLES)).sort()
  // to 0.01 ms, as autocannon's whole milliseconds are whole
  const ms = (value: number): number => Math.round(value * 100) / 100
  return { rps: measured / elapsed, p50: ms(percentile(sorted, 0.5)), p99: ms(percentile(sorted, 0.99)), errors }
}
