import t from 'tap'
import { ChunkedEnd, parseRequestHead, parseResponseHead } from '../../lib/proxy/fast-path/http1.js'

t.test('a request head the fast path can forward', async t => {
  const head = parseRequestHead('GET /home?id=42&x=1 HTTP/1.1\r\nHost: lb:5000\r\nX-Request-Id: abc\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: spoofed\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nAccept: */*\r\nContent-Length: 0')
  t.same(head, {
    method: 'GET',
    target: '/home?id=42&x=1',
    path: '/home',
    query: 'id=42&x=1',
    lines: ['X-Request-Id: abc', 'Accept: */*'],
    host: 'lb:5000',
    keyHeaders: { 'x-request-id': 'abc' },
    forwardedFor: '10.0.0.1',
    close: false
  }, 'hop-by-hop headers, Host, the X-Forwarded trio and an empty length are the balancer\'s to write')
  t.equal(parseRequestHead('HEAD / HTTP/1.1\r\nHost: lb\r\nConnection: Close')?.close, true)
  t.equal(parseRequestHead('GET /a HTTP/1.1\r\nHost: lb')?.query, '', 'no query')
})

t.test('request heads left to Node\'s parser', async t => {
  // each with a Host, so that it is declined for what it says it is
  const declined = {
    'a method with a body': 'POST /home HTTP/1.1\r\nHost: lb\r\nContent-Length: 2',
    'a body on a GET': 'GET /home HTTP/1.1\r\nHost: lb\r\nContent-Length: 2',
    'two empty lengths': 'GET /home HTTP/1.1\r\nHost: lb\r\nContent-Length: 0\r\nContent-Length: 0',
    'a chunked GET': 'GET /home HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: chunked',
    'an upgrade': 'GET /ws HTTP/1.1\r\nHost: lb\r\nConnection: Upgrade\r\nUpgrade: websocket',
    'Expect': 'GET /home HTTP/1.1\r\nHost: lb\r\nExpect: 100-continue',
    'HTTP/1.0': 'GET /home HTTP/1.0\r\nHost: lb',
    'an absolute target': 'GET http://lb/home HTTP/1.1\r\nHost: lb',
    'an escaped path': 'GET /r%65p HTTP/1.1\r\nHost: lb',
    'a fragment (the router cuts the path there)': 'GET /rep#x HTTP/1.1\r\nHost: lb',
    'a space in the target': 'GET /a b HTTP/1.1\r\nHost: lb',
    'a lower-case method': 'get /home HTTP/1.1\r\nHost: lb',
    'no Host': 'GET /home HTTP/1.1\r\nAccept: */*',
    'a header without a colon': 'GET / HTTP/1.1\r\nHost: lb\r\nBroken',
    'a space in a header name': 'GET / HTTP/1.1\r\nHost: lb\r\nBad Name: 1',
    'a folded header': 'GET / HTTP/1.1\r\nHost: lb\r\nX-A: 1\r\n continued',
    'a control character in a value': 'GET / HTTP/1.1\r\nHost: lb\r\nX-A: a\x01b',
    'a bare LF': 'GET / HTTP/1.1\r\nHost: lb\r\nX-A: 1\nX-B: 2',
    'two Host headers': 'GET / HTTP/1.1\r\nHost: a\r\nHost: b',
    'two request ids': 'GET / HTTP/1.1\r\nHost: lb\r\nX-Request-Id: 1\r\nX-Request-Id: 2',
    'two X-Forwarded-For': 'GET / HTTP/1.1\r\nHost: lb\r\nX-Forwarded-For: 1\r\nX-Forwarded-For: 2',
    'Connection naming another header': 'GET / HTTP/1.1\r\nHost: lb\r\nConnection: x-secret\r\nX-Secret: 1'
  }
  for (const [what, head] of Object.entries(declined)) t.equal(parseRequestHead(head), undefined, what)
})

t.test('response heads: framing, and what is passed on', async t => {
  const ok = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: 1', 'GET')
  t.same(ok, { statusCode: 200, lines: ['HTTP/1.1 200 OK', 'Content-Length: 5', 'X-Kept: 1'], framing: { kind: 'length', length: 5 }, close: false })
  const chunked = parseResponseHead('HTTP/1.1 201 Created\r\nTransfer-Encoding: Chunked', 'GET')
  t.same(chunked.framing, { kind: 'chunked' })
  t.same(chunked.lines, ['HTTP/1.1 201 Created', 'transfer-encoding: chunked'], 'a chunked body keeps its encoding, passed on as it is')
  t.same(parseResponseHead('HTTP/1.1 200 OK', 'GET').framing, { kind: 'close' }, 'no length: until the connection closes')
  const old = parseResponseHead('HTTP/1.0 200 OK\r\nContent-Length: 0', 'GET')
  t.equal(old.close, true, 'an HTTP/1.0 answer closes its connection')
  t.equal(old.lines[0], 'HTTP/1.1 200 OK', 'and goes on as HTTP/1.1')
  t.equal(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0', 'GET').close, true)
  t.same(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 5000', 'HEAD').framing, { kind: 'none' }, 'a HEAD answer has no body')
  t.same(parseResponseHead('HTTP/1.1 304 Not Modified\r\nContent-Length: 5000', 'GET').framing, { kind: 'none' })
  t.same(parseResponseHead('HTTP/1.1 204 No Content', 'GET').framing, { kind: 'none' })
  t.same(parseResponseHead('HTTP/1.1 103 Early Hints', 'GET').framing, { kind: 'none' })
})

t.test('response heads that cannot be passed on', async t => {
  const bad = {
    'not HTTP': 'THIS IS NOT HTTP',
    'HTTP/2': 'HTTP/2 200',
    'a status out of range': 'HTTP/1.1 700 Odd',
    'a malformed header': 'HTTP/1.1 200 OK\r\nNo colon here',
    'two different lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4',
    // Node's parser refuses a repeated one too (docs/http-strictness.md)
    'two equal lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3',
    'a negative length': 'HTTP/1.1 200 OK\r\nContent-Length: -1',
    'an unknown transfer coding': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked',
    'an upgrade nobody asked for': 'HTTP/1.1 101 Switching Protocols',
    'both a length and chunks': 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked'
  }
  for (const [what, head] of Object.entries(bad)) t.throws(() => parseResponseHead(head, 'GET'), { name: 'BadResponse' }, what)
})

t.test('ChunkedEnd finds the end of a chunked body, however it is split', async t => {
  const body = Buffer.from('5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n')
  const next = Buffer.from('HTTP/1.1 200 OK')
  const stream = Buffer.concat([body, next])
  t.equal(new ChunkedEnd().scan(stream), body.length, 'in one piece, with what follows it')
  for (let cut = 1; cut < body.length; cut++) {
    const scanner = new ChunkedEnd()
    const first = scanner.scan(stream.subarray(0, cut))
    const second = scanner.scan(stream.subarray(cut))
    if (first !== -1 || second !== body.length - cut) {
      t.fail(`cut at ${cut}: ${first}, ${second}`)
      return
    }
  }
  t.pass('cut anywhere in two, the end is found in the second piece')
  const scanner = new ChunkedEnd()
  let end = -1
  for (let i = 0; i < stream.length && end === -1; i++) end = scanner.scan(stream.subarray(i, i + 1)) === -1 ? -1 : i + 1
  t.equal(end, body.length, 'byte by byte')
  t.equal(new ChunkedEnd().scan(Buffer.from('0\r\n\r\n')), 5, 'an empty body')
  t.equal(new ChunkedEnd().scan(Buffer.from('4\r\nabcd\r\n')), -1, 'not yet over')
})

t.test('a chunked body that breaks its framing', async t => {
  for (const [what, text] of [['a size that is not hex', 'zz\r\n'], ['a chunk longer than its size', '2\r\nabc\r\n'], ['a size line without LF', '2\rx'], ['a size too large', '1234567890abc\r\n'], ['a bare LF in an extension', '5;a\nb\r\n'], ['a bare LF in a trailer', '0\r\nX-T: 1\n\r\n']]) {
    t.throws(() => new ChunkedEnd().scan(Buffer.from(text)), { name: 'BadResponse' }, what)
  }
})
