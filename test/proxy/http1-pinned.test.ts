import t, { type Test } from 'tap'
import { errorAnswer } from '../../lib/errors.js'
import { BadResponse, ChunkedEnd, parseRequestHead, parseResponseHead } from '../../lib/proxy/fast-path/http1.js'
import { HOP_BY_HOP } from '../../lib/proxy/headers.js'

/*
 * The edges of the fast path's HTTP/1 framing that mutation testing found
 * unpinned (issue 18): each test here fails if a bound, an anchor, a set
 * member or a state of the parser changes.
 */

const scan = (text: string): number => new ChunkedEnd().scan(Buffer.from(text, 'latin1'))

function badResponse (t: Test, run: () => unknown, message: string, what: string): void {
  t.throws(run, new BadResponse(message), what)
}

t.test('chunk sizes in every hex digit, upper and lower case', async t => {
  const sizes: Array<[string, number]> = [['0', 0], ['9', 9], ['a', 10], ['A', 10], ['f', 15], ['F', 15], ['1f', 31], ['9F', 159], ['10', 16]]
  for (const [hex, size] of sizes.filter(([, n]) => n > 0)) {
    const body = `${hex}\r\n${'x'.repeat(size)}\r\n0\r\n\r\n`
    t.equal(scan(body), body.length, `size ${hex} = ${size}`)
    t.equal(scan(`${hex}\r\n${'x'.repeat(size - 1)}`), -1, `size ${hex}: one byte short goes on`)
  }
  // the bytes around each digit range are not digits
  for (const notHex of ['/', ':', '@', 'G', '`', 'g']) badResponse(t, () => scan(`${notHex}\r\n`), 'malformed chunk size', `${notHex} is not a hex digit`)
  t.equal(scan('000000000005\r\nhello\r\n0\r\n\r\n'), 26, '12 digits are read')
  badResponse(t, () => scan('0000000000005\r\n'), 'malformed chunk size', '13 digits are too many')
})

t.test('a chunk-size line needs digits: an empty or extension-only size line is not the last chunk', async t => {
  badResponse(t, () => scan('\r\n\r\n'), 'malformed chunk size', 'no digits')
  badResponse(t, () => scan(';ext\r\n\r\n'), 'malformed chunk size', 'only an extension')
  badResponse(t, () => scan(' 0\r\n\r\n'), 'malformed chunk size', 'a space before the digits')
  t.equal(scan('5;x=1\r\nhello\r\n0\r\n\r\n'), 19, 'a semicolon after the digits starts an extension')
  t.equal(scan('0;last\r\n\r\n'), 10, 'the last chunk may carry an extension')
})

t.test('a CR must be followed by LF: after a size, chunk data, in a trailer and at the end', async t => {
  badResponse(t, () => scan('2\rx'), 'malformed chunk size line', 'after the size')
  badResponse(t, () => scan('2\r\nab\rX'), 'chunk longer than its size', 'after chunk data')
  badResponse(t, () => scan('2\r\nabc'), 'chunk longer than its size', 'no CR after chunk data')
  badResponse(t, () => scan('0\r\nX-T: 1\rX'), 'bare CR in a trailer', 'in a trailer')
  badResponse(t, () => scan('0\r\nX-T: 1\nX'), 'bare LF in a trailer', 'a bare LF in a trailer')
  badResponse(t, () => scan('0\r\n\rX'), 'malformed end of chunked body', 'at the end')
  badResponse(t, () => scan('5;a\nb'), 'malformed chunk extension', 'a bare LF in an extension')
  t.equal(scan('0\r\n\r\nNEXT'), 5, 'the end is the LF after the blank line, not later')
})

t.test('a chunk is counted across pieces and the scanner resumes where it stopped', async t => {
  const scanner = new ChunkedEnd()
  t.equal(scanner.scan(Buffer.from('a\r\n01234')), -1)
  t.equal(scanner.scan(Buffer.from('56789\r\n0\r\n\r\nrest')), 12, 'the remaining 5 bytes of data, then the end')
  const offset = new ChunkedEnd()
  t.equal(offset.scan(Buffer.from('HEAD0\r\n\r\n'), 4), 9, 'from an offset')
})

t.test('Content-Length is all digits, at most 15 of them', async t => {
  for (const value of ['5abc', 'abc5', '5 5', '+5', '0x5', '1234567890123456', '']) {
    badResponse(t, () => parseResponseHead(`HTTP/1.1 200 OK\r\nContent-Length: ${value}`, 'GET'), `bad Content-Length: ${value}`, JSON.stringify(value))
  }
  t.same(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 123456789012345', 'GET').framing, { kind: 'length', length: 123456789012345 }, '15 digits')
  t.same(parseResponseHead('HTTP/1.1 200 OK\r\ncontent-length:  7 ', 'GET').framing, { kind: 'length', length: 7 }, 'spaces around the value are not part of it')
  badResponse(t, () => parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4', 'GET'), 'bad Content-Length: 4', 'two lengths')
})

t.test('the status line is anchored at both ends: HTTP/1.0 or 1.1, three digits 100..599, an optional reason', async t => {
  for (const line of ['HTTP/1.1 2000 OK', 'XHTTP/1.1 200 OK', 'HTTP/1.1 200OK', 'HTTP/1.2 200 OK', 'HTTP/1.1 099 Low', 'HTTP/1.1 600 High', 'HTTP/1.1 20 OK', 'HTTP/1.1  200 OK', 'HTTP/1.1 200 O\x01K']) {
    badResponse(t, () => parseResponseHead(line, 'GET'), `not an HTTP/1.x status line: ${JSON.stringify(line)}`, JSON.stringify(line))
  }
  badResponse(t, () => parseResponseHead(`HTTP/9 ${'x'.repeat(100)}`, 'GET'), `not an HTTP/1.x status line: ${JSON.stringify(`HTTP/9 ${'x'.repeat(100)}`.slice(0, 80))}`, 'the message shows at most 80 characters')
  for (const [line, code] of [['HTTP/1.1 100 Continue', 100], ['HTTP/1.1 599 Custom', 599], ['HTTP/1.1 200', 200], ['HTTP/1.1 200 ', 200], ['HTTP/1.1 299 A\tB é', 299]] as const) {
    t.equal(parseResponseHead(`${line}\r\nContent-Length: 0`, 'GET').statusCode, code, JSON.stringify(line))
  }
  t.same(parseResponseHead('HTTP/1.0 404 Not Found\r\nContent-Length: 0', 'GET').lines[0], 'HTTP/1.1 404 Not Found', 'HTTP/1.0 goes on as 1.1 with its reason')
  t.equal(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 0', 'GET').close, false, 'HTTP/1.1 keeps the connection')
})

t.test('a header line is anchored: a token, a colon, then no control characters', async t => {
  for (const line of ['X-A: 1\x00', ' X-A: 1', 'X-A : 1', ': 1', 'X-A: 1\x7f', 'X(A): 1']) {
    badResponse(t, () => parseResponseHead(`HTTP/1.1 200 OK\r\n${line}`, 'GET'), `malformed header line: ${JSON.stringify(line)}`, JSON.stringify(line))
    t.equal(parseRequestHead(`GET / HTTP/1.1\r\nHost: lb\r\n${line}`), undefined, `a request with ${JSON.stringify(line)}`)
  }
  const long = `X-${'a'.repeat(100)}`
  badResponse(t, () => parseResponseHead(`HTTP/1.1 200 OK\r\n${long}`, 'GET'), `malformed header line: ${JSON.stringify(long.slice(0, 80))}`, 'at most 80 characters shown')
  const odd = parseResponseHead("HTTP/1.1 200 OK\r\nX-!#$%&'*+.^_`|~9z: \t~é\r\nContent-Length: 0", 'GET')
  t.same(odd.lines, ['HTTP/1.1 200 OK', "X-!#$%&'*+.^_`|~9z: \t~é", 'Content-Length: 0'], 'every token character, tab, ~ and obs-text pass')
})

t.test('the request line is anchored: GET or HEAD, an origin-form target, HTTP/1.1', async t => {
  for (const line of ['xGET / HTTP/1.1', 'GET / HTTP/1.1x', 'GET / HTTP/1.11', 'GET  / HTTP/1.1', 'GET / HTTP/1.1 ', 'GETS / HTTP/1.1', 'GET /\x7f HTTP/1.1', 'GET / http/1.1']) {
    t.equal(parseRequestHead(`${line}\r\nHost: lb`), undefined, JSON.stringify(line))
  }
  t.equal(parseRequestHead('GET /!"$~\'()*+,;=:@[]{}|\\^`&? HTTP/1.1\r\nHost: lb')?.path, '/!"$~\'()*+,;=:@[]{}|\\^`&', 'every visible character but # and space')
  t.equal(parseRequestHead('HEAD /x HTTP/1.1\r\nHost: lb')?.method, 'HEAD')
  t.same(parseRequestHead('GET /a?x=%20&y=? HTTP/1.1\r\nHost: lb'), { method: 'GET', target: '/a?x=%20&y=?', path: '/a', query: 'x=%20&y=?', lines: [], host: 'lb', keyHeaders: {}, forwardedFor: undefined, close: false }, 'an escape in the query is forwarded: only the path is routed')
})

t.test('Connection with several tokens: close wins, keep-alive and empty ones are allowed, any other declines', async t => {
  t.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nConnection: keep-alive, close')?.close, true)
  t.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nConnection: ,KEEP-ALIVE,, ')?.close, false)
  t.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nConnection: close, x-a\r\nX-A: 1'), undefined, 'a named header among them')
  t.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nConnection: keep-alive\r\nConnection: close')?.close, true, 'over two Connection lines')
  const response = parseResponseHead('HTTP/1.1 200 OK\r\nConnection: X-A, keep-alive\r\nConnection: close\r\nX-A: 1\r\nx-b: 2\r\nContent-Length: 0', 'GET')
  t.same(response.lines, ['HTTP/1.1 200 OK', 'x-b: 2', 'Content-Length: 0'], 'each header a Connection line names is dropped, whatever its case')
  t.equal(response.close, true, 'close in a second Connection line')
  t.equal(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: keep-alive, closed\r\nContent-Length: 0', 'GET').close, false, '"closed" is not close')
})

t.test('only Connection names headers to drop: another header whose value is a header name drops nothing', async t => {
  const response = parseResponseHead('HTTP/1.1 200 OK\r\nX-Names: x-b\r\nVary: content-length\r\nX-B: 1\r\nContent-Length: 0', 'GET')
  t.same(response.lines, ['HTTP/1.1 200 OK', 'X-Names: x-b', 'Vary: content-length', 'X-B: 1', 'Content-Length: 0'])
  t.equal(response.close, false)
  const request = parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nX-Names: close, x-b\r\nX-B: 1')
  t.same(request?.lines, ['X-Names: close, x-b', 'X-B: 1'], 'nor in a request')
  t.equal(request?.close, false)
  t.same(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: http/1.1 200 o\r\nContent-Length: 0', 'GET').lines[0], 'HTTP/1.1 200 OK', 'the status line is never taken for a header')
})

t.test('the hop-by-hop headers of RFC 9110 §7.6.1 are never passed on, in either direction', async t => {
  t.same([...HOP_BY_HOP].sort(), ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])
  const response = parseResponseHead('HTTP/1.1 200 OK\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\nUpgrade: h2c\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nContent-Length: 0', 'GET')
  t.same(response.lines, ['HTTP/1.1 200 OK', 'Content-Length: 0'])
  const request = parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\nTE: trailers\r\nKeep-Alive: 5\r\nX-Kept: 1')
  t.same(request?.lines, ['X-Kept: 1'])
})

t.test('what a request head keeps and what it takes for itself', async t => {
  const head = parseRequestHead('GET / HTTP/1.1\r\nhost:  lb:5000  \r\nx-request-id:  r-1 \r\nX-Forwarded-For: 10.0.0.1 \r\ncontent-length: 0\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h')
  t.same(head, { method: 'GET', target: '/', path: '/', query: '', lines: ['x-request-id:  r-1 '], host: 'lb:5000', keyHeaders: { 'x-request-id': 'r-1' }, forwardedFor: '10.0.0.1', close: false }, 'values trimmed; the request id forwarded as it came')
  t.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nContent-Length: 00'), undefined, 'a length other than exactly 0')
  t.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nUpgrade: h2c'), undefined, 'Upgrade alone')
  t.equal(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: identity'), undefined, 'any Transfer-Encoding')
})

t.test('a response\'s framing: HEAD, 1xx, 204 and 304 have no body; chunked, a length, or until close', async t => {
  t.same(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked', 'HEAD'), { statusCode: 200, lines: ['HTTP/1.1 200 OK'], framing: { kind: 'none' }, close: false }, 'a HEAD answer: no body and no encoding passed on')
  t.same(parseResponseHead('HTTP/1.1 199 Odd\r\nContent-Length: 9', 'GET').framing, { kind: 'none' })
  t.same(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 9', 'GET').framing, { kind: 'length', length: 9 })
  t.same(parseResponseHead('HTTP/1.1 205 Reset Content\r\nContent-Length: 0', 'GET').framing, { kind: 'length', length: 0 })
  t.same(parseResponseHead('HTTP/1.1 305 Use Proxy', 'GET').framing, { kind: 'close' })
  t.same(parseResponseHead('HTTP/1.1 203 OK\r\nTransfer-Encoding: chunked', 'GET').framing, { kind: 'chunked' })
  badResponse(t, () => parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked', 'GET'), 'unsupported Transfer-Encoding: chunked', 'chunked twice')
  badResponse(t, () => parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip', 'GET'), 'unsupported Transfer-Encoding: gzip', 'another coding')
  badResponse(t, () => parseResponseHead('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket', 'GET'), '101 Switching Protocols to a request that asked for no upgrade', '101')
  badResponse(t, () => parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1', 'HEAD'), 'both Content-Length and Transfer-Encoding', 'both, even to a HEAD')
})

t.test('the error answer is a whole HTTP/1.1 message in the contract\'s shape; to a HEAD, without its body', async t => {
  const body = '{"message":"<Error> no replica","status":"failure"}'
  const head = `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\nretry-after: 1\r\nconnection: close\r\n\r\n`
  t.equal(errorAnswer(503, 'no replica', ['retry-after: 1', 'connection: close']), head + body)
  t.equal(errorAnswer(503, 'no replica', ['retry-after: 1', 'connection: close'], 'HEAD'), head, 'HEAD: the length of the body it does not send')
  t.equal(errorAnswer(503, 'no replica', [], 'GET'), `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
  t.ok(errorAnswer(599, 'é', []).startsWith('HTTP/1.1 599 \r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: 43\r\n'), 'an unknown code has an empty reason; the length counts bytes')
})

t.test('after a chunk size only a semicolon or CR may come, whatever follows', async t => {
  badResponse(t, () => scan('5x\nhello\r\n0\r\n\r\n'), 'malformed chunk size', 'a letter, then LF')
  badResponse(t, () => scan('5 \r\nhello\r\n0\r\n\r\n'), 'malformed chunk size', 'a space, then CRLF')
})

t.test('chunk extensions are read as Node reads them: names and token values of tchars, quoted values with escapes and obs-text', async t => {
  const accepted = ['5;x0=9z;Z9=A0', "5;!#$%&'*+-.^_`|~=~|`_^.-+*'&%$#!", '5;a="\\""', '5;a="\t ~\x80\xff"', '5;a="\\\t\\ \\~\\\x80"', '5;a="b";c', '5;a="b";c="d"', '5;a=b;c']
  for (const line of accepted) t.equal(scan(`${line}\r\nhello\r\n0\r\n\r\n`), line.length + 14, JSON.stringify(line))
  const refused = ['5;=a', '5;@', '5;a@', '5;a/', '5;a:', '5;a[', '5;a{', '5;a\x7f', '5;a\x80', '5;a=@', '5;a= b', '5;a=b=c', '5;a=b"', '5;a="\x01"', '5;a="\x7f"', '5;a="\\\x01"', '5;a="\\\x7f"', '5;a="b"c', '5;a="b" ', '5;a="b"=c']
  for (const line of refused) badResponse(t, () => scan(`${line}\r\nhello\r\n0\r\n\r\n`), 'malformed chunk extension', JSON.stringify(line))
})

t.test('after the last chunk: a bare LF, and trailers that frame a message, are refused with their reason', async t => {
  badResponse(t, () => scan('0\r\n\nHTTP/1.1 200 OK\r\n\r\n'), 'bare LF after the last chunk', 'a bare LF where a trailer or the end goes')
  for (const line of ['Content-Length: 5', 'transfer-encoding: chunked']) badResponse(t, () => scan(`0\r\n${line}\r\n\r\n`), `malformed trailer: ${JSON.stringify(line)}`, line)
  const long = `X ${'a'.repeat(100)}`
  badResponse(t, () => scan(`0\r\n${long}\r\n\r\n`), `malformed trailer: ${JSON.stringify(long.slice(0, 80))}`, 'at most 80 characters shown')
})

t.test('the trailer section is followed up to 16 KiB, its line ends counted', async t => {
  const LIMIT = 16 * 1024
  const trailer = (length: number): string => `X-T: ${'a'.repeat(length - 5)}`
  const one = `0\r\n${trailer(LIMIT)}\r\n\r\n`
  t.equal(scan(one), one.length, 'one trailer line of 16 KiB')
  badResponse(t, () => scan(`0\r\n${trailer(LIMIT + 1)}\r\n\r\n`), 'trailers too large', 'one byte more')
  // a first line of 100 bytes and its CRLF leave 16 KiB - 102 for the next
  const two = `0\r\n${trailer(100)}\r\n${trailer(LIMIT - 102)}\r\n\r\n`
  t.equal(scan(two), two.length, 'two lines, 16 KiB with the first one\'s CRLF')
  badResponse(t, () => scan(`0\r\n${trailer(100)}\r\n${trailer(LIMIT - 101)}\r\n\r\n`), 'trailers too large', 'one byte more in the second')
})

t.test('an interim answer that closes the connection is refused with its reason', async t => {
  for (const head of ['HTTP/1.1 103 Early Hints\r\nConnection: close', 'HTTP/1.0 100 Continue']) {
    badResponse(t, () => parseResponseHead(head, 'GET'), 'an interim answer that closes the connection', JSON.stringify(head))
  }
})
