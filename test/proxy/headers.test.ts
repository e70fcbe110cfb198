import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import t from 'tap'
import { HOP_BY_HOP, balancerWrites, checkTarget, connectionOptions, downstreamHeaders, forwardedFor, forwardedProto, isPersistenceOption, trimOws, upgradeHeaders, upstreamHeaders } from '../../lib/proxy/headers.js'

/** What upstreamHeaders reads of a request: its headers (as Node lower-cases them) and the client's connection. */
function request (headers: Record<string, string | string[] | undefined>, remoteAddress?: string, encrypted?: boolean): IncomingMessage {
  return { headers, socket: { remoteAddress, encrypted } } as unknown as IncomingMessage
}

t.test('the hop-by-hop headers are RFC 9110 §7.6.1\'s, with Proxy-Connection', async t => {
  t.same([...HOP_BY_HOP].sort(), ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])
})

t.test('a Connection header\'s options: lower-cased, trimmed, empty ones dropped', async t => {
  t.same(connectionOptions(' Keep-Alive ,,X-Hop,  close ,'), ['keep-alive', 'x-hop', 'close'])
  t.same(connectionOptions(''), [])
  t.ok(isPersistenceOption('close'))
  t.ok(isPersistenceOption('keep-alive'))
  for (const other of ['x-hop', 'upgrade', 'closed', '']) t.notOk(isPersistenceOption(other), JSON.stringify(other))
})

t.test('the request headers the balancer writes itself, or never passes', async t => {
  for (const name of ['host', 'x-forwarded-host', 'x-forwarded-proto', ...HOP_BY_HOP]) t.ok(balancerWrites(name), name)
  for (const name of ['x-forwarded-for', 'x-request-id', 'accept', 'content-length']) t.notOk(balancerWrites(name), name)
})

t.test('X-Forwarded-For gets the client\'s address appended', async t => {
  t.equal(forwardedFor(undefined, '10.0.0.9'), '10.0.0.9')
  t.equal(forwardedFor('', '10.0.0.9'), '10.0.0.9')
  t.equal(forwardedFor('1.2.3.4', '10.0.0.9'), '1.2.3.4, 10.0.0.9')
  t.equal(forwardedFor('1.2.3.4', undefined), '1.2.3.4', 'no address known: the prior list as it is')
  t.equal(forwardedFor(undefined, undefined), undefined)
})

t.test('upstream: the client\'s headers less hop-by-hop, Connection-listed and balancer-written ones, with the X-Forwarded trio', async t => {
  const headers = upstreamHeaders(request({
    host: 'lb:5000',
    connection: 'keep-alive, X-Hop',
    'keep-alive': 'timeout=5',
    'x-hop': '1',
    te: 'trailers',
    'x-forwarded-host': 'spoofed',
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '1.2.3.4',
    'content-length': '12',
    expect: '100-continue',
    accept: '*/*',
    cookie: ['a=1', 'b=2']
  }, '10.0.0.9'))
  t.same(headers, { 'x-forwarded-for': '1.2.3.4, 10.0.0.9', accept: '*/*', cookie: ['a=1', 'b=2'], 'x-forwarded-host': 'lb:5000', 'x-forwarded-proto': 'http' })
  t.same(upstreamHeaders(request({ accept: 'a' })), { accept: 'a', 'x-forwarded-proto': 'http' }, 'no Host, no address: no X-Forwarded-Host or -For')
  t.same(upstreamHeaders(request({ connection: 'close', close: 'a header named close', 'x-a': '1' }, '10.0.0.9')), { close: 'a header named close', 'x-a': '1', 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'http' }, 'close and keep-alive name no header')
  t.same(upstreamHeaders(request({ 'x-names': 'x-a', 'x-a': '1' }, '10.0.0.9')), { 'x-names': 'x-a', 'x-a': '1', 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'http' }, 'only Connection lists headers to drop')
  t.same(upstreamHeaders(request({ connection: ['x-a'] as unknown as string, 'x-a': '1' }, '10.0.0.9')), { 'x-a': '1', 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'http' }, 'a Connection that is not one string lists nothing')
})

t.test('downstream: the replica\'s headers less hop-by-hop and Connection-listed ones', async t => {
  t.same(downstreamHeaders({
    connection: 'close, X-Hop',
    'x-hop': '1',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'proxy-connection': 'keep-alive',
    trailer: 'x-t',
    upgrade: 'h2c',
    'content-type': 'text/plain',
    'set-cookie': ['a=1', 'b=2']
  }), { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] })
  t.same(downstreamHeaders({ connection: 'keep-alive', close: 'x', 'x-a': '1' }), { close: 'x', 'x-a': '1' })
  t.same(downstreamHeaders({ 'content-type': 'text/plain', 'x-a': '1' }), { 'content-type': 'text/plain', 'x-a': '1' }, 'no Connection header')
})

t.test('only SP and HTAB are trimmed, at either end or both, and a value of them only is empty', async t => {
  for (const [value, trimmed] of [['0', '0'], ['0 \t', '0'], ['\t 0', '0'], [' 0 a\t', '0 a'], [' \t ', ''], ['', '']]) t.equal(trimOws(value), trimmed, JSON.stringify(value))
})

t.test('X-Forwarded-Proto says https only for a TLS connection', async t => {
  t.equal(forwardedProto({ encrypted: true } as unknown as Socket), 'https')
  t.equal(forwardedProto({} as unknown as Socket), 'http')
  t.equal(forwardedProto(null), 'http', 'no socket (a request already detached from it)')
  t.equal(upstreamHeaders(request({}, '10.0.0.9', true))['x-forwarded-proto'], 'https')
})

t.test('upstream: an HTTP/2 request\'s pseudo-headers are not passed on, its :authority is the X-Forwarded-Host', async t => {
  t.strictSame(upstreamHeaders(request({ ':method': 'GET', ':path': '/a', ':scheme': 'https', ':authority': 'lb:5000', accept: '*/*' }, '10.0.0.9', true)), { accept: '*/*', 'x-forwarded-for': '10.0.0.9', 'x-forwarded-host': 'lb:5000', 'x-forwarded-proto': 'https' })
  t.strictSame(upstreamHeaders(request({ host: 'h.test', ':authority': 'lb:5000' })), { 'x-forwarded-host': 'h.test', 'x-forwarded-proto': 'http' }, 'a Host header wins')
})

t.test('upstream: no header is written without a value', async t => {
  t.strictSame(upstreamHeaders(request({ 'x-a': undefined, accept: 'a' })), { accept: 'a', 'x-forwarded-proto': 'http' }, 'no X-Forwarded-For or -Host key at all, and no key for an undefined value')
})

t.test('an upgrade request passes Connection: upgrade and its Upgrade header on, and the rest as any request', async t => {
  t.strictSame(upgradeHeaders(request({ host: 'lb', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k', 'x-forwarded-proto': 'https' }, '10.0.0.9')), { 'sec-websocket-key': 'k', 'x-forwarded-for': '10.0.0.9', 'x-forwarded-host': 'lb', 'x-forwarded-proto': 'http', connection: 'upgrade', upgrade: 'websocket' })
  t.equal(upgradeHeaders(request({ connection: 'upgrade' })).upgrade, '', 'no Upgrade header: an empty one')
})

/** checkTarget on a request line's target, version and raw headers; `stream` for an HTTP/2 request */
const check = (url: string | undefined, rawHeaders: string[] = ['Host', 'h.test'], httpVersion = '1.1', stream?: object): ReturnType<typeof checkTarget> => checkTarget({ url, httpVersion, rawHeaders, stream } as unknown as Parameters<typeof checkTarget>[0])

t.test('the undici path\'s target check says why it refuses, quoting at most 80 characters', async t => {
  const long = `/${'a'.repeat(100)}`
  t.strictSame(check('/a', ['Host', 'h.test'], '0.9'), { refused: 'HTTP/0.9 is not served: HTTP/1.1 or HTTP/1.0 only' })
  t.strictSame(check('/a', ['Host', 'h.test'], '2.0'), { refused: 'HTTP/2.0 is not served: HTTP/1.1 or HTTP/1.0 only' }, 'an HTTP/1 request line saying HTTP/2.0')
  t.strictSame(check('/a', ['Host', 'h.test', 'host', 'h.test']), { refused: 'more than one Host header' })
  t.strictSame(check('/a', ['Accept', '*/*']), { refused: 'no Host header' })
  t.strictSame(check('/a', ['Host', `h .${'a'.repeat(100)}`]), { refused: `malformed Host header: ${JSON.stringify(`h .${'a'.repeat(100)}`.slice(0, 80))}` })
  t.strictSame(check(`*${long}`), { refused: `the request target must be a path (origin-form) or an absolute URL: ${JSON.stringify(`*${long}`.slice(0, 80))}` })
  t.strictSame(check(undefined), { refused: 'the request target must be a path (origin-form) or an absolute URL: ""' }, 'no target at all')
  const foreign = `other${'a'.repeat(100)}.example`
  t.strictSame(check(`http://${foreign}/a`), { refused: `the absolute target's authority ${JSON.stringify(foreign.slice(0, 80))} is not the Host header's` })
})

t.test('the undici path finds the one Host among other headers, in any case, of any length', async t => {
  t.strictSame(check('/a', ['Vary', 'x', 'HOST', 'h.test', 'Accept', '*/*', 'From', 'f']), { path: '/a' })
  t.strictSame(check('http://h.test/a', ['From', 'x', 'Host', 'h.test']), { path: '/a' }, 'a four-letter header is not Host')
  t.strictSame(check('https://h.test/a'), { path: '/a' }, 'https too')
  t.strictSame(check('http://h.test/a', [], '1.0'), { path: '/a' }, 'HTTP/1.0 without Host')
})

t.test('an absolute target is matched whole: no bytes before its scheme, none after a line break', async t => {
  t.ok('refused' in check('xhttp://h.test/a'), 'before the scheme')
  t.ok('refused' in check('http://h.test/a\nb'), 'a line break in the target')
})

t.test('Host: a bracketed IPv6 literal or a reg-name, and a port of at most 5 digits', async t => {
  for (const host of ['[::1]', '[::1]:8080', '[2001:DB8::a.b]', 'h.test:', 'h.test:65535', 'h_~!$&\'()*+,;=%-.test']) t.strictSame(check('/a', ['Host', host]), { path: '/a' }, host)
  for (const host of ['[]', '[zz]', '[::1', 'a[::1]', 'h.test:123456', 'h.test:1a', 'h.test:-1', 'u@h.test']) t.ok('refused' in check('/a', ['Host', host]), host)
})

t.test('a real HTTP/2 request (it has a stream) needs a path, and no Host', async t => {
  t.strictSame(check('/a?b=1', [], '2.0', {}), { path: '/a?b=1' })
  t.strictSame(check('*', [], '2.0', {}), { refused: 'the request target must be a path: "*"' })
  t.strictSame(check(`http://h.test/${'a'.repeat(100)}`, [], '2.0', {}), { refused: `the request target must be a path: ${JSON.stringify(`http://h.test/${'a'.repeat(100)}`.slice(0, 80))}` })
  t.strictSame(check(undefined, [], '2.0', {}), { refused: 'the request target must be a path: ""' })
  t.ok('refused' in check('/a', [], '1.1', {}), 'an HTTP/1.1 request with a stream still needs its Host')
})
