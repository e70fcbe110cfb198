import Fastify, { type FastifyInstance } from 'fastify'
import type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from '../../lib/replicas/drivers/index.js'

/** Answers a replica writes on its socket itself, bypassing its HTTP server. */
export const RAW: Record<string, string> = {
  // a header listed in Connection is hop-by-hop, as Keep-Alive is
  hop: 'HTTP/1.1 200 OK\r\nConnection: close, x-private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\nX-Public: 1\r\nContent-Length: 2\r\n\r\nok',
  garbage: 'THIS IS NOT HTTP\r\n\r\n',
  // promises 100 bytes and hangs up after 7
  break: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial',
  // a chunked body with an extension and a trailer, passed on as it is
  chunked: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n',
  // no length: the body ends when the connection does
  unframed: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end',
  hints: 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  empty: 'HTTP/1.1 204 No Content\r\nX-Empty: 1\r\n\r\n',
  badchunk: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
}

/**
 * Replicas that echo what they receive, as real HTTP servers on loopback, so
 * the test sees exactly what the proxy forwarded. A driver over them is a fake
 * of the process driver only in how the servers are started.
 */
export class EchoDriver implements Driver {
  readonly name = 'echo'
  readonly servers = new Map<string, { app: FastifyInstance, handle: ReplicaHandle }>()
  /** /drip answers whose connection closed before they were whole */
  cutOff = 0
  /** connections each replica has accepted */
  readonly connections = new Map<string, number>()

  async create (spec: ReplicaSpec): Promise<ReplicaHandle> {
    const app = Fastify()
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
    app.get('/heartbeat', async () => 'Hello')
    app.get('/raw/:answer', (req, reply) => {
      reply.hijack()
      req.raw.socket.end(RAW[(req.params as { answer: string }).answer])
    })
    // an answer without a length whose connection is reset, not closed, midway: cut short, not whole
    app.get('/reset', (req, reply) => {
      reply.hijack()
      const socket = req.raw.socket
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart of it')
      // once the proxy has read the part (a reset at once could discard it unread)
      setTimeout(() => { socket.resetAndDestroy() }, 50)
    })
    // the same, a few bytes at a time, so that the proxy reads it in pieces
    app.get('/split/:answer', (req, reply) => {
      reply.hijack()
      const socket = req.raw.socket
      const answer = RAW[(req.params as { answer: string }).answer]
      const write = (at: number): void => {
        if (at >= answer.length) { socket.end(); return }
        socket.write(answer.slice(at, at + 5))
        setTimeout(() => { write(at + 5) }, 2)
      }
      write(0)
    })
    // after `delay` ms, 100 chunks 20 ms apart: two seconds of answer
    app.get('/drip/:delay', (req, reply) => {
      reply.hijack()
      const res = reply.raw
      res.once('close', () => { if (!res.writableFinished) this.cutOff++ })
      let sent = 0
      const timer = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        const drip = setInterval(() => {
          if (res.destroyed) { clearInterval(drip); return }
          res.write('.')
          if (++sent === 100) { clearInterval(drip); res.end() }
        }, 20)
      }, Number((req.params as { delay: string }).delay))
      res.once('close', () => { clearTimeout(timer) })
    })
    app.get('/bytes/:n', async (req, reply) => {
      const n = Number((req.params as { n: string }).n)
      return await reply.type('application/octet-stream').send(Buffer.alloc(n, 'abcdefghij'))
    })
    app.all('/*', async (req, reply) => {
      reply.header('x-echo-server', spec.hostname).code(req.url.startsWith('/teapot') ? 418 : 200)
      return { method: req.method, url: req.url, headers: req.headers, body: (req.body as Buffer | undefined)?.toString('base64') ?? null }
    })
    app.server.on('connection', () => { this.connections.set(spec.hostname, (this.connections.get(spec.hostname) ?? 0) + 1) })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const handle = { ...spec, url }
    this.servers.set(spec.hostname, { app, handle })
    return handle
  }

  async remove (hostname: string): Promise<void> {
    await this.servers.get(hostname)?.app.close()
    this.servers.delete(hostname)
  }

  async list (): Promise<ReplicaHandle[]> { return [...this.servers.values()].map(s => s.handle) }
  onExit (_listener: (exit: ReplicaExit) => void): void {}
  async close (): Promise<void> { for (const name of [...this.servers.keys()]) await this.remove(name) }
}
