import t from 'tap'
import { readRequestHead, responseHeadEnd } from '../../lib/proxy/fast-path/heads.js'
import { BadResponse } from '../../lib/proxy/fast-path/http1.js'

/*
 * The edges of heads.ts that mutation testing found unpinned (issue 18): the
 * 16 KiB bounds to the byte, a request line judged while it arrives, and the
 * reason given for each answer head refused before its end.
 */

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1')
const LIMIT = 16 * 1024

/** `prefix` padded with a header value to exactly `length` bytes */
const padded = (prefix: string, length: number): string => `${prefix}X-Pad: ${'a'.repeat(length - prefix.length - 7)}`

t.test('a request head of up to 16 KiB before its blank line is read; a longer one is left to Node', async t => {
  const head = (length: number): Buffer => bytes(`${padded('GET / HTTP/1.1\r\nHost: lb\r\n', length)}\r\n\r\n`)
  const read = readRequestHead(head(LIMIT))
  t.equal(read.kind === 'head' && read.end, LIMIT + 4, '16 KiB exactly')
  t.same(readRequestHead(head(LIMIT + 1)), { kind: 'handoff' }, 'one byte more')
  const partial = (length: number): Buffer => bytes(padded('GET / HTTP/1.1\r\nHost: lb\r\n', length))
  t.same(readRequestHead(partial(LIMIT)), { kind: 'wait' }, 'not whole yet, 16 KiB exactly waits for more')
  t.same(readRequestHead(partial(LIMIT + 1)), { kind: 'handoff' }, 'one byte more without a blank line')
})

t.test('a whole request head the fast path does not forward goes to Node', async t => {
  for (const head of ['POST / HTTP/1.1\r\nHost: lb\r\n\r\n', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 'GET / HTTP/1.1\r\nHost: lb\r\nUpgrade: h2c\r\n\r\n']) {
    t.same(readRequestHead(bytes(head)), { kind: 'handoff' }, JSON.stringify(head))
  }
})

t.test('a request line still arriving waits while it can become GET or HEAD on an origin-form target over HTTP/1.1', async t => {
  for (const start of ['', 'H', 'HE', 'HEA', 'HEAD', 'HEAD ', 'GET ', 'GET /', 'GET /a:b', 'GET /a?x=1 ', 'GET /a H', 'GET /a HTTP/1.1', 'GET /a HTTP/1.1\r', 'GET /a HTTP/1.1\r\nHost: h\r\n\r']) {
    t.same(readRequestHead(bytes(start)), { kind: 'wait' }, JSON.stringify(start))
  }
  for (const start of ['POST /a', 'OPTIONS', 'HEX', 'GET a', 'HEAD x', 'GET /a#', 'GET /a\t', 'GET /a X', 'GET /a HTTP/1.1 ', 'GET /a HTTP/1.0']) {
    t.same(readRequestHead(bytes(start)), { kind: 'handoff' }, JSON.stringify(start))
  }
})

t.test('a request line a CR ends must be whole: one cut short goes to Node at once (found by the differential fuzzer, seed 2611)', async t => {
  // Node refuses `HEAD /a HTTP/1.\r` at its CR (HPE_INVALID_VERSION); the fast path used to wait for more
  for (const start of ['HEAD /a HTTP/1.\r', 'GET /a HTTP/\r', 'GET /a H\r', 'GET /a \r', 'GET /a\r', 'GET \r', 'GET\r', 'HEA\r', '\r']) {
    t.same(readRequestHead(bytes(start)), { kind: 'handoff' }, JSON.stringify(start))
  }
  t.same(readRequestHead(bytes('HEAD /a HTTP/1.1\r')), { kind: 'wait' }, 'a whole line waits for its LF')
})

t.test('a request head that starts with an empty line goes to Node at once (Node skips the line; the fast path never forwards such a head)', async t => {
  for (const start of ['\r\n', '\r\nGET', '\r\nGET /a HTTP/1.1\r\nHost: h']) t.same(readRequestHead(bytes(start)), { kind: 'handoff' }, JSON.stringify(start))
})

t.test('a response head of up to 16 KiB is read, from wherever it starts; a longer one is refused', async t => {
  const head = (length: number): string => padded('HTTP/1.1 200 OK\r\n', length)
  t.equal(responseHeadEnd(bytes(`${head(LIMIT)}\r\n\r\n`), 0), LIMIT, '16 KiB exactly')
  t.throws(() => responseHeadEnd(bytes(`${head(LIMIT + 1)}\r\n\r\n`), 0), new BadResponse('response head too large'), 'one byte more')
  t.equal(responseHeadEnd(bytes(head(LIMIT)), 0), -1, 'not whole yet, 16 KiB exactly waits for more')
  t.throws(() => responseHeadEnd(bytes(head(LIMIT + 1)), 0), new BadResponse('response head too large'), 'one byte more without a blank line')
  const before = 'x'.repeat(100)
  t.equal(responseHeadEnd(bytes(`${before}${head(LIMIT)}\r\n\r\n`), 100), 100 + LIMIT, 'the bytes before its start are not counted')
  t.equal(responseHeadEnd(bytes(`${before}${head(LIMIT)}`), 100), -1, 'nor while it arrives')
  const small = 'HTTP/1.1 200 OK\r\nContent-Length: 20000'
  t.equal(responseHeadEnd(bytes(`${small}\r\n\r\n${'b'.repeat(20000)}`), 0), small.length, 'the body after the head is not counted')
})

t.test('a response head not whole yet is refused as soon as it is malformed, and says why', async t => {
  const fault = (text: string, start = 0): () => number => () => responseHeadEnd(bytes(text), start)
  t.throws(fault('HTTP/1.1 200 OK\nX'), new BadResponse('bare LF in the response head'), 'an LF without its CR')
  t.throws(fault('x\r\nHTTP/1.1 200 OK\r\n', 2), new BadResponse('bare LF in the response head'), 'an LF at the head\'s first byte, after a CR of the bytes before it')
  t.throws(fault('HTTP/1.1 200 OK\rX'), new BadResponse('bare CR in the response head'), 'a CR without its LF')
  t.throws(fault('HTTP/1.1 200 OK\r\nX-A: 1\rX'), new BadResponse('bare CR in the response head'), 'in a header line')
  t.throws(fault('HTTP/1.1 2000 OK\r\n'), new BadResponse('malformed response head line: "HTTP/1.1 2000 OK"'), 'a malformed status line')
  t.throws(fault('HTTP/1.1 200 OK\r\nX-A: 1\r\nX A: 2\r\n'), new BadResponse('malformed response head line: "X A: 2"'), 'a malformed header line after a good one')
  const long = `X ${'a'.repeat(100)}`
  t.throws(fault(`HTTP/1.1 200 OK\r\n${long}\r\n`), new BadResponse(`malformed response head line: ${JSON.stringify(long.slice(0, 80))}`), 'at most 80 characters shown')
  for (const byte of ['\x00', '\x1f', '\x7f']) {
    t.throws(fault(`HTTP/1.1 200 OK\r\nX-A: ${byte}`), new BadResponse('control byte in the response head'), JSON.stringify(byte))
  }
  for (const head of ['HTTP/1.1 200 OK\r', 'HTTP/1.1 200 OK\r\nX-A:\t1 ~\xff\r\nX-B: 2\r\nX-C', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n\r']) {
    t.equal(responseHeadEnd(bytes(head), 0), -1, `waits: ${JSON.stringify(head)}`)
  }
})
