import { type IncomingMessage, type Server, createServer, request } from 'node:http'
import { Duplex } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'

/*
 * Node's own parser (llhttp) as the oracle, reached the public way: an HTTP
 * server given an in-memory connection ('connection' takes any Duplex), and an
 * HTTP client whose createConnection returns one. Bytes are fed one at a time
 * so that where llhttp found a head's end, a message's end or an error is
 * known to the byte: its events fire synchronously within each push.
 */

class Wire extends Duplex {
  written = ''
  _read (): void {}
  _write (chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.written += chunk.toString('latin1')
    done()
  }
}

export type NodeRequest =
  | { kind: 'incomplete' }
  /** an error from the parser, or Node's own 400 (a missing Host) */
  | { kind: 'refused', at: number, code: string }
  /** `at`: the byte after the head; `complete`: the message ended there too (no body) */
  | { kind: 'request', at: number, method: string, url: string, version: string, rawHeaders: string[], complete: boolean }

let server: Server | undefined

export function nodeReadsRequest (bytes: Buffer): NodeRequest {
  server ??= createServer()
  const wire = new Wire()
  let result: NodeRequest = { kind: 'incomplete' }
  let at = 0
  let incoming: IncomingMessage | undefined
  const onRequest = (req: IncomingMessage): void => {
    incoming ??= req
    if (result.kind === 'incomplete') result = { kind: 'request', at, method: req.method ?? '', url: req.url ?? '', version: req.httpVersion, rawHeaders: req.rawHeaders, complete: false }
  }
  const onError = (error: Error & { code?: string }): void => {
    if (result.kind === 'incomplete') result = { kind: 'refused', at, code: error.code ?? error.message }
  }
  server.on('request', onRequest)
  server.on('clientError', onError)
  try {
    server.emit('connection', wire)
    // the first read turns the stream synchronous: each push below is parsed before it returns
    wire.read(0)
    for (at = 1; at <= bytes.length && result.kind === 'incomplete'; at++) {
      wire.push(bytes.subarray(at - 1, at))
      if (result.kind === 'incomplete' && wire.written.startsWith('HTTP/1.1 4')) result = { kind: 'refused', at, code: wire.written.slice(9, 12) }
    }
    // TypeScript cannot see the listeners above assign it
    const read = result as NodeRequest
    if (read.kind === 'request' && incoming !== undefined) read.complete = incoming.complete
  } finally {
    server.off('request', onRequest)
    server.off('clientError', onError)
    wire.destroy()
  }
  return result
}

export type NodeResponse =
  | { kind: 'incomplete', headAt?: number, status?: number }
  | { kind: 'refused', at: number, code: string }
  /** `headAt`: the byte after the final answer's head; `at`: after its end */
  | { kind: 'end', at: number, headAt: number, status: number }

export async function nodeReadsResponse (bytes: Buffer, method: 'GET' | 'HEAD'): Promise<NodeResponse> {
  const wire = new Wire()
  let result: NodeResponse = { kind: 'incomplete' }
  let at = 0
  let response: IncomingMessage | undefined
  let headAt = 0
  const req = request({ method, host: '127.0.0.1', path: '/', createConnection: () => wire })
  req.on('response', (res: IncomingMessage) => {
    response = res
    headAt = at
    res.resume()
  })
  req.on('error', (error: Error & { code?: string }) => {
    if (result.kind === 'incomplete') result = { kind: 'refused', at, code: error.code ?? error.message }
  })
  req.end()
  // the client takes its connection on the next tick
  await tick()
  wire.read(0)
  for (at = 1; at <= bytes.length && result.kind === 'incomplete'; at++) {
    wire.push(bytes.subarray(at - 1, at))
    if (result.kind === 'incomplete' && response?.complete === true) result = { kind: 'end', at, headAt, status: response.statusCode ?? 0 }
  }
  if (result.kind === 'incomplete' && response !== undefined) result = { kind: 'incomplete', headAt, status: response.statusCode }
  wire.destroy()
  return result
}
