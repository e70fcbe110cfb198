import { once } from 'node:events'
import { type Socket, connect } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { build, upstreamConnections } from '../helper.js'
import { EchoDriver } from '../support/echo-driver.js'

/** Writes `text` on a new connection and returns all it reads until the balancer closes the connection (or 5 s pass). */
async function talk (port: number, text: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  socket.setTimeout(5000, () => { socket.destroy() })
  socket.write(text)
  let received = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => { received += chunk })
  socket.on('error', () => {})
  await once(socket, 'close')
  return received
}

/** The answers in a stream of HTTP/1.1 responses whose bodies are all Content-Length framed. */
function answers (stream: string): Array<{ status: number, headers: Record<string, string>, body: string }> {
  const out = []
  let at = 0
  while (at < stream.length) {
    const end = stream.indexOf('\r\n\r\n', at)
    const [statusLine, ...lines] = stream.slice(at, end).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim()
    const length = Number(headers['content-length'] ?? 0)
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: stream.slice(end + 4, end + 4 + length) })
    at = end + 4 + length
  }
  return out
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: lb.test\r\n${extra}\r\n`

t.test('the fast path over real sockets', async t => {
  const driver = new EchoDriver()
  const app = await build(t, {}, { driver })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${port}`
  const owner = (id: number): string => app.ring.lookup(id)?.hostname as string

  t.test('GETs take it: their replica\'s connections are its own, kept and reused', async t => {
    const replica = app.ring.lookup(11)!
    const before = driver.connections.get(replica.hostname) ?? 0
    for (let i = 0; i < 20; i++) {
      const res = await request(`${base}/home?id=11`)
      t.equal(res.headers['x-ringlb-replica'], replica.hostname)
      await res.body.dump()
    }
    t.ok((await upstreamConnections(app, 'fast-path')).has(replica.url), 'it is on by default: the fast path keeps connections to the replica')
    t.notOk((await upstreamConnections(app, 'undici')).has(replica.url), 'and the undici path\'s pools were not used')
    t.equal((driver.connections.get(replica.hostname) ?? 0) - before, 1, '20 requests one after another, one connection to the replica')
  })

  t.test('pipelined requests are answered in order, and a request it leaves to Fastify takes the connection over', async t => {
    const post = 'POST /items?id=5 HTTP/1.1\r\nHost: lb.test\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody'
    const stream = await talk(port, get('/home?id=1') + get('/rep') + get('/home?id=2') + post + get('/home?id=3', 'Connection: close\r\n'))
    const [first, rep, second, echoed, third] = answers(stream)
    t.equal(first.headers['x-ringlb-replica'], owner(1))
    t.equal(JSON.parse(first.body).url, '/home?id=1')
    t.same(JSON.parse(rep.body), { N: 3, replicas: ['server-0', 'server-1', 'server-2'] }, 'the balancer answers its own route')
    t.notOk('x-ringlb-replica' in rep.headers)
    t.equal(second.headers['x-ringlb-replica'], owner(2), 'requests after it are still proxied')
    t.equal(JSON.parse(second.body).url, '/home?id=2')
    t.same(JSON.parse(echoed.body).method, 'POST')
    t.equal(Buffer.from(JSON.parse(echoed.body).body as string, 'base64').toString(), 'body', 'the body arrives whole')
    t.equal(third.headers['x-ringlb-replica'], owner(3))
    t.equal(third.headers.connection, 'close', 'the client\'s Connection: close is honoured')
    t.equal(app.replicas.load.total, 0)
  })

  t.test('the balancer\'s own paths are its own over a socket too; a path it does not own is proxied', async t => {
    // an escaped path is left to the router, which decodes it: /r%65p is /rep
    // each on a new connection: one the fast path has handed to Fastify stays with Fastify
    for (const path of ['/heartbeat', '/rep', '/map_request?id=1', '/stats', '/metrics', '/ring', '/docs', '/docs/', '/docs/json', '/dashboard', '/dashboard/app.js', '/r%65p']) {
      const answer = await talk(port, get(path, 'Connection: close\r\n'))
      t.match(answer, /^HTTP\/1\.1 [23]\d\d /)
      t.notMatch(answer, /x-ringlb-replica/, `${path} is the balancer's`)
    }
    for (const path of ['/rep/', '/REP', '/heartbeat/x', '/docsx', '/', '/h%6fme']) {
      const answer = await talk(port, get(`${path}?id=4`, 'Connection: close\r\n'))
      t.match(answer, `\r\nx-ringlb-replica: ${owner(4)}\r\n`, `${path} is proxied`)
    }
  })

  t.test('every framing of an answer passes through as it came', async t => {
    for (const how of ['raw', 'split']) {
      const chunked = await talk(port, get(`/${how}/chunked?id=8`, 'Connection: close\r\n'))
      t.match(chunked, /^HTTP\/1\.1 200 OK\r\n/)
      t.match(chunked, /\r\ntransfer-encoding: chunked\r\n/i)
      t.ok(chunked.endsWith('\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n'), `${how}: chunks, extension and trailer unchanged`)

      const unframed = await talk(port, get(`/${how}/unframed?id=8`))
      t.match(unframed, /\r\nconnection: close\r\n/, `${how}: an answer ended by its connection ends the client's`)
      t.ok(unframed.endsWith('\r\n\r\nuntil the end'))
    }
    const hints = await talk(port, get('/raw/hints?id=8', 'Connection: close\r\n'))
    t.match(hints, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n/, 'an interim answer goes first, as it is')
    t.ok(hints.endsWith('\r\n\r\nok'))

    const empty = await talk(port, get('/raw/empty?id=8') + get('/home?id=8', 'Connection: close\r\n'))
    const [noContent, next] = answers(empty)
    t.equal(noContent.status, 204)
    t.equal(noContent.headers['x-empty'], '1')
    t.equal(next.status, 200, 'a 204 has no body: the next answer follows it')

    const head = await talk(port, `HEAD /bytes/5000?id=8 HTTP/1.1\r\nHost: lb.test\r\n\r\n${get('/home?id=8', 'Connection: close\r\n')}`)
    t.match(head, /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 5000\r\n/i, 'a HEAD answer keeps its length')
    t.equal(answers(head.replace(/content-length: 5000/i, 'content-length: 0')).length, 2, 'and has no body')
  })

  t.test('a chunked answer that breaks its framing closes the client\'s connection after what was sent', async t => {
    const before = { ...app.metrics.of(owner(8)) }
    const broken = await talk(port, get('/raw/badchunk?id=8'))
    t.match(broken, /^HTTP\/1\.1 200 OK\r\n/)
    t.equal(app.metrics.of(owner(8)).errors - before.errors, 1, 'counted as the replica\'s error')
    t.equal(app.replicas.load.total, 0)
  })

  t.test('an answer whose client is gone as it is written leaves its replica connection usable', async t => {
    // the balancer's side of the client's connection is destroyed just as the answer is written
    // to it (as when a client leaves in the same instant): the write fails, and the replica's
    // connection goes back to the pool, where the next request for that replica takes it
    const accepted = once(app.server, 'connection') as Promise<[Socket]>
    const client = connect(port, '127.0.0.1')
    client.on('error', () => {})
    const [ours] = await accepted
    const write = ours.write.bind(ours) as (...args: unknown[]) => boolean
    ours.write = ((...args: unknown[]) => {
      ours.destroy()
      return write(...args)
    }) as typeof ours.write
    client.write(get('/home?id=31'))
    await once(client, 'close')
    // on a new connection, so that the fast path takes it
    const next = await talk(port, get('/home?id=31', 'Connection: close\r\n'))
    t.match(next, /^HTTP\/1\.1 200 OK\r\n/, 'the next request to that replica is answered')
    t.equal(app.replicas.load.total, 0)
  })

  t.test('an answer without a length cut off by a reset counts as broken, not whole', async t => {
    const before = { ...app.metrics.of(owner(8)) }
    await talk(port, get('/reset?id=8'))
    t.equal(app.metrics.of(owner(8)).errors - before.errors, 1, 'counted as the replica\'s error')
    t.equal(app.replicas.load.total, 0)
  })

  t.test('a client that sends requests but reads no answers gets no more forwarded until it reads', async t => {
    const before = app.metrics.totals().requests
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    const count = 300
    // 300 answers of 64 KiB: far more than the sockets' buffers hold
    socket.write(Array.from({ length: count }, (_, i) => get(`/bytes/65536?id=${i}`, i === count - 1 ? 'Connection: close\r\n' : '')).join(''))
    socket.pause()
    await new Promise(resolve => setTimeout(resolve, 1000))
    const forwarded = app.metrics.totals().requests - before
    t.ok(forwarded < count / 2, `only ${forwarded} of ${count} answered while the client read nothing`)
    let received = 0
    socket.on('data', (chunk: Buffer) => { received += chunk.length })
    socket.resume()
    await once(socket, 'close')
    t.equal(app.metrics.totals().requests - before, count, 'and all once it read')
    t.ok(received > count * 65536, 'every answer arrived')
  })

  t.test('a request head that is not well formed is left to Node, which refuses it', async t => {
    const hostless = await talk(port, 'GET /home?id=1 HTTP/1.1\r\n\r\n')
    t.match(hostless, /^HTTP\/1\.1 400 /, 'HTTP/1.1 without Host')
    const res = await talk(port, 'GET /home?id=1 HTTP/1.1\r\nHost: lb.test\r\nBad Header: x\r\n\r\n')
    t.match(res, /^HTTP\/1\.1 400 /)
    t.match(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4)), { message: /^<Error> malformed HTTP request \(HPE_/, status: 'failure' }, 'in the contract\'s error shape')
    const other = await talk(port, get('/home?id=1', 'X-Long: ' + 'a'.repeat(20_000) + '\r\n'))
    t.match(other, /^HTTP\/1\.1 431 /, 'a head over 16 KiB is Node\'s to refuse')
    t.notMatch(other, /x-ringlb-replica/, 'the balancer refused it, not a replica')
    t.ok(other.endsWith('{"message":"<Error> request head is larger than the limit (16 KiB)","status":"failure"}'))
  })
})

for (const env of [{ LB_FAST_PATH: 'false' }, { LB_ACCESS_LOG: 'true' }] as Array<Record<string, string>>) {
  t.test(`${JSON.stringify(env)}: every request takes the undici path`, async t => {
    const driver = new EchoDriver()
    const app = await build(t, env, { driver })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const res = await request(`http://127.0.0.1:${port}/home?id=11`)
    t.equal(res.headers['x-ringlb-replica'], app.ring.lookup(11)?.hostname)
    await res.body.dump()
    t.same([...(await upstreamConnections(app, 'fast-path'))], [], 'no fast path')
    t.ok((await upstreamConnections(app, 'undici')).has(app.ring.lookup(11)!.url), 'through the undici path\'s pools')
  })
}

t.test('with no replicas, a GET is left to the proxy plugin, which answers 503 in the error shape', async t => {
  const app = await build(t, { LB_REPLICAS: '0' }, { driver: new EchoDriver() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const answer = await talk(port, get('/home?id=1', 'Connection: close\r\n'))
  t.match(answer, /^HTTP\/1\.1 503 /)
  t.same(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), { message: '<Error> no replicas are available', status: 'failure' })
})
