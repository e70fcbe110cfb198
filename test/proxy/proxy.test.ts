import t from 'tap'
import { once } from 'node:events'
import http from 'node:http'
import { request } from 'undici'
import { build, until, upstreamConnections } from '../helper.js'
import { EchoDriver } from '../support/echo-driver.js'

t.test('the proxy forwards method, path, query, headers and body, and passes the answer back', async t => {
  const driver = new EchoDriver()
  const app = await build(t, {}, { driver })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${address.port}`

  t.test('a JSON POST arrives byte for byte', async t => {
    const payload = '{"b": 2,  "a":[1,2]}'
    const res = await request(`${base}/api/items?id=42&x=1&x=2`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-custom': 'yes' }, body: payload })
    t.equal(res.statusCode, 200)
    const echo = await res.body.json() as { method: string, url: string, headers: Record<string, string>, body: string }
    t.equal(echo.method, 'POST')
    t.equal(echo.url, '/api/items?id=42&x=1&x=2')
    t.equal(echo.headers['x-custom'], 'yes')
    t.equal(echo.headers['content-type'], 'application/json')
    t.equal(Buffer.from(echo.body, 'base64').toString(), payload, 'not re-encoded')
    t.equal(res.headers['x-ringlb-replica'], app.ring.lookup(42)?.hostname)
    t.equal(res.headers['x-echo-server'], app.ring.lookup(42)?.hostname, 'the owner of id 42 answered')
  })

  t.test('binary bodies, other methods and statuses pass through', async t => {
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255])
    const put = await request(`${base}/blob?id=7`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes })
    const echo = await put.body.json() as { method: string, body: string }
    t.equal(echo.method, 'PUT')
    t.same(Buffer.from(echo.body, 'base64'), bytes)
    const teapot = await request(`${base}/teapot?id=7`, { method: 'DELETE' })
    t.equal(teapot.statusCode, 418, 'the replica\'s status is kept')
    t.equal((await teapot.body.json() as { method: string }).method, 'DELETE')
    const get = await request(`${base}/?id=7`)
    t.equal((await get.body.json() as { url: string }).url, '/?id=7', 'the root path is proxied too')
  })

  t.test('hop-by-hop headers stay on their hop, and X-Forwarded-* tell the replica who asked', async t => {
    // node:http, since undici refuses to send a Connection header naming other headers
    const req = http.request(`${base}/headers?id=42`, {
      headers: { connection: 'keep-alive, x-secret', 'x-secret': '1', 'keep-alive': 'timeout=5', 'x-forwarded-for': '10.0.0.1', host: 'lb.example:5000', 'x-kept': 'yes' }
    })
    req.end()
    const [res] = await once(req, 'response') as [http.IncomingMessage]
    let text = ''
    for await (const chunk of res) text += String(chunk)
    const echo = JSON.parse(text) as { headers: Record<string, string> }
    const replica = app.ring.lookup(42)!
    t.equal(echo.headers['x-kept'], 'yes')
    t.notOk('x-secret' in echo.headers, 'a header the client\'s Connection lists is not forwarded')
    t.notOk('keep-alive' in echo.headers, 'nor is Keep-Alive')
    t.equal(echo.headers.host, new URL(replica.url).host, 'Host is the replica\'s own')
    t.equal(echo.headers['x-forwarded-host'], 'lb.example:5000')
    t.equal(echo.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1', 'the client address is appended')
    t.equal(echo.headers['x-forwarded-proto'], 'http')

    const hop = await request(`${base}/raw/hop?id=42`)
    t.equal(await hop.body.text(), 'ok')
    t.equal(hop.headers['x-public'], '1')
    t.notOk('x-private' in hop.headers, 'a header the replica\'s Connection lists is not passed back')
    t.not(hop.headers['keep-alive'], 'timeout=5', 'nor is the replica\'s Keep-Alive (the balancer\'s connection has its own)')
  })

  t.test('a chunked body sent after Expect: 100-continue reaches the replica whole, with its length', async t => {
    const req = http.request(`${base}/upload?id=9`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', expect: '100-continue', 'transfer-encoding': 'chunked' }
    })
    await once(req, 'continue')
    req.write('first part, ')
    req.end('second part')
    const [res] = await once(req, 'response') as [http.IncomingMessage]
    let text = ''
    for await (const chunk of res) text += String(chunk)
    t.equal(res.statusCode, 200)
    const echo = JSON.parse(text) as { headers: Record<string, string>, body: string }
    t.equal(Buffer.from(echo.body, 'base64').toString(), 'first part, second part')
    t.equal(echo.headers['content-length'], '23')
    t.notOk('transfer-encoding' in echo.headers)
    t.notOk('expect' in echo.headers, 'the balancer answered the Expect itself')
  })

  t.test('a large answer streams through byte for byte', async t => {
    const res = await request(`${base}/bytes/3000000?id=5`)
    const body = Buffer.from(await res.body.arrayBuffer())
    t.equal(res.statusCode, 200)
    t.equal(body.length, 3_000_000)
    t.ok(body.equals(Buffer.alloc(3_000_000, 'abcdefghij')))
  })

  t.test('an answer that is not HTTP is a 502 in the error shape, not retried', async t => {
    const res = await request(`${base}/raw/garbage?id=42`)
    t.equal(res.statusCode, 502)
    t.match(await res.body.json(), { status: 'failure', message: new RegExp(`^<Error> replica ${app.ring.lookup(42)!.hostname} failed: `) })
    t.equal(res.headers['x-ringlb-replica'], app.ring.lookup(42)!.hostname)
  })

  t.test('an answer broken off mid-body closes the client\'s connection, and the balancer goes on', async t => {
    const owner = app.ring.lookup(42)!.hostname
    const before = { ...app.metrics.of(owner) }
    const res = await request(`${base}/raw/break?id=42`)
    t.equal(res.statusCode, 200, 'the status had already gone out')
    await t.rejects(res.body.text(), 'the client sees the body cut short')
    const after = app.metrics.of(owner)
    t.equal(after.requests - before.requests, 1, 'counted once as a request of the replica')
    t.equal(after.errors - before.errors, 1, 'and as its error')
    const next = await request(`${base}/home?id=42`)
    t.equal(next.statusCode, 200)
    await next.body.dump()
    t.equal(app.replicas.load.total, 0, 'no request is left counted in flight')
  })

  t.test('a client that leaves, mid-answer or before it, has the replica\'s answer cut off too', async t => {
    for (const delay of [0, 200]) {
      const before = driver.cutOff
      const req = http.request(`${base}/drip/${delay}?id=42`)
      req.on('error', () => {})
      req.end()
      if (delay === 0) {
        const [res] = await once(req, 'response') as [http.IncomingMessage]
        await once(res, 'data')
      } else {
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      req.destroy()
      // the whole answer would take two seconds
      await until(`delay ${delay}: the replica's answer is cut off`, () => driver.cutOff > before, 1500)
      await until(`delay ${delay}: nothing left in flight`, () => app.replicas.load.total === 0, 1500)
      t.pass(`delay ${delay} ms: the replica's connection was closed before its answer was whole`)
    }
  })

  t.test('a proxied body over the limit is refused by the balancer', async t => {
    const res = await request(`${base}/big?id=1`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(2 * 1024 * 1024) })
    t.equal(res.statusCode, 413)
    t.same(await res.body.json(), { message: '<Error> request body is larger than the limit (LB_BODY_LIMIT)', status: 'failure' })
  })

  t.test('the pool of a replica that leaves is closed', async t => {
    const victim = app.ring.lookup(42)!
    t.ok((await upstreamConnections(app, 'undici')).has(victim.url), 'a pool was opened for the replica')
    await app.replicas.remove(1, [victim.hostname])
    t.notOk((await upstreamConnections(app, 'undici')).has(victim.url), 'and closed when it left')
    const res = await request(`${base}/after?id=42`)
    t.not(res.headers['x-ringlb-replica'], victim.hostname)
    await res.body.dump()
  })
})

t.test('a client that stops reading is cut off after LB_PROXY_TIMEOUT_MS, and so is the replica', async t => {
  const driver = new EchoDriver()
  const app = await build(t, { LB_PROXY_TIMEOUT_MS: '500' }, { driver })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  // 64 MiB: far more than the sockets' buffers hold
  const req = http.request(`http://127.0.0.1:${port}/bytes/67108864?id=3`)
  req.end()
  const [res] = await once(req, 'response') as [http.IncomingMessage]
  t.equal(res.statusCode, 200)
  res.pause()
  await until('the stalled exchange ends', () => app.replicas.load.total === 0, 5000)
  // what the client had not read yet is still in its buffers: read it, to the cut
  let received = 0
  res.on('data', (chunk: Buffer) => { received += chunk.length })
  res.on('error', () => {}) // 'aborted', as expected
  res.resume()
  await new Promise(resolve => res.once('close', resolve))
  t.notOk(res.complete, 'the client\'s answer was cut off')
  t.ok(received < 64 * 1024 * 1024, `after ${received} of 67108864 bytes`)
  const next = await request(`http://127.0.0.1:${port}/headers?id=3`)
  t.equal(next.statusCode, 200, 'and the replica answers the next request')
  await next.body.dump()
})
