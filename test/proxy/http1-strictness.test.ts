import t from 'tap'
import { readRequestHead, responseHeadEnd } from '../../lib/proxy/fast-path/heads.js'
import { ChunkedEnd, parseRequestHead, parseResponseHead } from '../../lib/proxy/fast-path/http1.js'
import { checkTarget, trimOws } from '../../lib/proxy/headers.js'

/*
 * The strictness rules of docs/http-strictness.md as the fast path and the
 * header rules apply them, one rule a case: what Node's parser refuses, or
 * nginx and HAProxy both refuse, is never read as something to forward.
 */

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1')
const get = (...lines: string[]): string => ['GET /a?id=1 HTTP/1.1', 'Host: h.test', ...lines].join('\r\n')

t.test('only SP and HTAB are optional whitespace', async t => {
  t.equal(trimOws(' \t0 \t'), '0')
  t.equal(trimOws('0\xa0'), '0\xa0', 'an NBSP stays part of the value')
  t.equal(trimOws('\x0b0\x0c'), '\x0b0\x0c', 'as do VT and FF')
})

t.test('a request head whose Content-Length or Host is not what Node reads is not forwarded', async t => {
  t.ok(parseRequestHead(get('Content-Length: 0')), 'Content-Length 0 is')
  t.ok(parseRequestHead(get('Content-Length: 0 ')), 'with a space after it too, as Node reads it')
  for (const [what, head] of Object.entries({
    'Content-Length 0 then NBSP': get('Content-Length: 0\xa0'),
    'Content-Length 0 then a tab': get('Content-Length: 0\t'),
    'a Host with a space': 'GET / HTTP/1.1\r\nHost: h .test',
    'a Host with userinfo': 'GET / HTTP/1.1\r\nHost: u@h.test',
    'a Host ending in NBSP': 'GET / HTTP/1.1\r\nHost: h.test\xa0',
    'an empty Host': 'GET / HTTP/1.1\r\nHost: ',
    'two Hosts': get('Host: h.test')
  })) t.equal(parseRequestHead(head), undefined, what)
})

t.test('a request head not whole yet goes to Node as soon as it cannot be one to forward', async t => {
  const waits = ['G', 'GET /a', 'HEAD /a?id=1 HTTP/1.', 'GET /a HTTP/1.1\r', 'GET /a HTTP/1.1\r\nHost: h', 'GET /a HTTP/1.1\r\nHost: h.test\r\nX-A: 1\r\n', 'GET /a HTTP/1.1\r\nContent-Le']
  for (const head of waits) t.same(readRequestHead(bytes(head)), { kind: 'wait' }, `waits: ${JSON.stringify(head)}`)
  const handOffs = {
    'lines in bare LF': 'GET /a HTTP/1.1\nHost: h.test\n',
    'an invalid method': 'G@T /a',
    'a method the fast path leaves to Node': 'POST /a HTTP/1.1\r\n',
    'a TLS ClientHello': '\x16\x03\x01\x00\xa5\x01\x00',
    'a malformed header line': 'GET /a HTTP/1.1\r\nX A: 1\r\n',
    'a header name with a space, still arriving': 'GET /a HTTP/1.1\r\nX A',
    'a header line ending before its colon': 'GET /a HTTP/1.1\r\nHostest\r',
    'a second Content-Length still arriving': 'GET /a HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0',
    'a bare CR': 'GET /a HTTP/1.1\r\nX-A: 1\rX',
    'NUL': 'GET /a HTTP/1.1\r\nX-A: \x00',
    'a version other than HTTP/1.1': 'GET /a HTTP/1.0\r\n',
    'more than 16 KiB': `GET /a HTTP/1.1\r\nX-A: ${'a'.repeat(16 * 1024)}`
  }
  for (const [what, head] of Object.entries(handOffs)) t.same(readRequestHead(bytes(head)), { kind: 'handoff' }, what)
  const whole = readRequestHead(bytes(`${get()}\r\n\r\nGET /next`))
  t.equal(whole.kind === 'head' && whole.end, get().length + 4, 'a whole head ends after its blank line')
})

t.test('a response head is refused as soon as it is malformed, and over 16 KiB', async t => {
  t.equal(responseHeadEnd(bytes('HTTP/1.1 200 OK\r\nContent-Le'), 0), -1, 'a head on its way is waited for')
  t.equal(responseHeadEnd(bytes('xxHTTP/1.1 200 OK\r\n\r\n'), 2), 17, 'a whole one is found from where it starts')
  for (const [what, head] of Object.entries({
    'lines in bare LF': 'HTTP/1.1 200 OK\nContent-Length: 2\n',
    'a bare CR': 'HTTP/1.1 200 OK\rX',
    'a malformed status line': 'HTTP/1.1 2000 OK\r\n',
    'a malformed header line': 'HTTP/1.1 200 OK\r\nX A: 1\r\n',
    'a control byte': 'HTTP/1.1 200 OK\r\nX-A: \x01',
    'a head over 16 KiB': `HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(16 * 1024)}\r\n\r\n`
  })) t.throws(() => responseHeadEnd(bytes(head), 0), { name: 'BadResponse' }, what)
})

t.test('response heads whose framing Node would read otherwise are refused', async t => {
  t.equal(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 2 ', 'GET').framing.kind, 'length', 'a space after the length is read as Node reads it')
  for (const [what, head] of Object.entries({
    'a length then NBSP': 'HTTP/1.1 200 OK\r\nContent-Length: 2\xa0',
    'a length then a tab': 'HTTP/1.1 200 OK\r\nContent-Length: 2\t',
    'two equal lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2',
    'chunked then a tab': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t',
    'an interim answer closing the connection': 'HTTP/1.1 103 Early Hints\r\nConnection: close',
    'an interim answer from HTTP/1.0': 'HTTP/1.0 100 Continue'
  })) t.throws(() => parseResponseHead(head, 'GET'), { name: 'BadResponse' }, what)
})

t.test('a chunked body is followed as Node reads it: extensions, bare LF and trailers', async t => {
  const end = (body: string): number => new ChunkedEnd().scan(bytes(body))
  const extensions = '5;a=b;c;d="e f"\r\nhello\r\n0\r\n\r\n'
  t.equal(end(`${extensions}HTTP/1.1`), extensions.length, 'extensions: tokens, quoted strings, bare names')
  const trailer = '2;a=\r\nok\r\n0\r\nX-T: 1\r\n\r\n'
  t.equal(end(`${trailer}HTTP/1.1`), trailer.length, 'an empty extension value, and a trailer')
  for (const [what, body] of Object.entries({
    'a bare LF after the last chunk': '5\r\nhello\r\n0\r\n\nHTTP/1.1 200 OK\r\n\r\n',
    'whitespace before an extension': '5 ;a\r\nhello\r\n0\r\n\r\n',
    'whitespace inside an extension': '5;a b\r\nhello\r\n0\r\n\r\n',
    'an extension without a name': '5;\r\nhello\r\n0\r\n\r\n',
    'a quote inside a token value': '5;a=b"\r\nhello\r\n0\r\n\r\n',
    'a trailer with a space before its colon': '0\r\nX-T : 1\r\n\r\n',
    'a Content-Length trailer': '0\r\nContent-Length: 0\r\n\r\n',
    'a trailer in bare LF': '0\r\nX-T: 1\n\r\n'
  })) t.throws(() => end(body), { name: 'BadResponse' }, what)
})

t.test('the undici path\'s target and Host rules', async t => {
  const check = (url: string, headers: string[] = ['Host', 'h.test'], httpVersion = '1.1'): ReturnType<typeof checkTarget> => checkTarget({ url, httpVersion, rawHeaders: headers })
  t.same(check('/a?id=1'), { path: '/a?id=1' }, 'origin-form goes as it is')
  t.same(check('http://h.test/a?id=1'), { path: '/a?id=1' }, 'absolute-form naming the Host is rewritten to origin-form')
  t.same(check('HTTP://H.TEST?id=1'), { path: '/?id=1' }, 'scheme and authority compare without case; an empty path is /')
  t.same(check('http://other.example/a', [], '1.0'), { path: '/a' }, 'HTTP/1.0 without Host takes the authority as it is')
  for (const [what, result] of Object.entries({
    'a foreign authority': check('http://other.example/a'),
    'userinfo in the authority': check('http://u@h.test/a', ['Host', 'u@h.test']),
    'an asterisk': check('*'),
    'authority-form': check('h.test:80'),
    'another scheme': check('ftp://h.test/a'),
    'two Hosts': check('/a', ['Host', 'h.test', 'host', 'h.test']),
    'a malformed Host': check('/a', ['Host', 'h .test']),
    'no Host on HTTP/1.1': check('/a', []),
    'HTTP/0.9': check('/a', ['Host', 'h.test'], '0.9'),
    'HTTP/2.0': check('/a', ['Host', 'h.test'], '2.0')
  })) t.ok('refused' in result, what)
})
