import { once } from 'node:events'
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net'

/*
 * The replica behind each proxy under test: it records every request head it
 * reads, byte for byte, and answers each with its target as the body, or with
 * the raw bytes a response case scripted for that path. It reads requests as a
 * typical backend does (Transfer-Encoding chunked over Content-Length), so a
 * message a proxy forwarded as-is with an ambiguous framing is framed here the
 * other way and the request hidden in its body shows up as one of its own.
 */

export interface Arrival {
  /** the request target as it arrived */
  target: string
  /** the whole head as it arrived (latin1), request line included */
  head: string
  /** the body as this upstream framed it (latin1) */
  body: string
}

/** Raw bytes to write as the answer to one path, and whether to close the connection after them. */
export interface Script {
  bytes: string
  close?: boolean
}

export class RecordingUpstream {
  readonly arrivals: Arrival[] = []
  readonly scripts = new Map<string, Script>()
  private readonly sockets = new Set<Socket>()
  private server: Server | undefined

  async listen (): Promise<number> {
    const server = this.server = createServer(socket => { this.serve(socket) })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return (server.address() as AddressInfo).port
  }

  async close (): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    this.server?.close()
    if (this.server !== undefined) await once(this.server, 'close')
  }

  /** The arrivals whose target contains `marker`. */
  find (marker: string): Arrival[] {
    return this.arrivals.filter(arrival => arrival.target.includes(marker))
  }

  private serve (socket: Socket): void {
    this.sockets.add(socket)
    socket.on('close', () => { this.sockets.delete(socket) })
    socket.on('error', () => {})
    let buffered = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      buffered += chunk
      for (;;) {
        const read = readRequest(buffered)
        if (read === undefined) return
        if (read === 'malformed') {
          socket.destroy()
          return
        }
        buffered = buffered.slice(read.length)
        this.answer(socket, read.arrival)
      }
    })
  }

  private answer (socket: Socket, arrival: Arrival): void {
    const path = arrival.target.replace(/^[a-z]+:\/\/[^/]*/i, '').split('?', 1)[0]
    if (path === '/heartbeat') {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}', 'latin1')
      return
    }
    this.arrivals.push(arrival)
    const script = this.scripts.get(path)
    if (script !== undefined) {
      socket.write(script.bytes, 'latin1')
      if (script.close === true) socket.end()
      return
    }
    const head = arrival.head.startsWith('HEAD ')
    socket.write(`HTTP/1.1 200 OK\r\nx-upstream: 1\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(arrival.target, 'latin1')}\r\n\r\n${head ? '' : arrival.target}`, 'latin1')
  }
}

/** One request from the front of `data`: undefined while incomplete. */
function readRequest (data: string): { arrival: Arrival, length: number } | 'malformed' | undefined {
  const end = data.indexOf('\r\n\r\n')
  if (end === -1) return data.length > 1 << 20 ? 'malformed' : undefined
  const head = data.slice(0, end)
  const [requestLine, ...lines] = head.split('\r\n')
  const target = requestLine.split(' ')[1] ?? ''
  let length = 0
  let chunked = false
  for (const line of lines) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'transfer-encoding' && value.toLowerCase().includes('chunked')) chunked = true
    if (name === 'content-length') length = Number.parseInt(value, 10)
  }
  const bodyStart = end + 4
  if (!chunked) {
    if (!Number.isFinite(length) || length < 0) return 'malformed'
    if (data.length < bodyStart + length) return undefined
    return { arrival: { target, head, body: data.slice(bodyStart, bodyStart + length) }, length: bodyStart + length }
  }
  let at = bodyStart
  let body = ''
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd === -1) return undefined
    const size = Number.parseInt(data.slice(at, lineEnd), 16)
    if (!Number.isFinite(size) || size < 0) return 'malformed'
    at = lineEnd + 2
    if (size === 0) break
    if (data.length < at + size + 2) return undefined
    body += data.slice(at, at + size)
    at += size + 2
  }
  // trailers, up to the blank line
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd === -1) return undefined
    const empty = lineEnd === at
    at = lineEnd + 2
    if (empty) break
  }
  return { arrival: { target, head, body }, length: at }
}
