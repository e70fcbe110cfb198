import type { IncomingMessage } from 'node:http'
import t from 'tap'
import { HOP_BY_HOP, balancerWrites, connectionOptions, downstreamHeaders, forwardedFor, isPersistenceOption, upstreamHeaders } from '../../lib/proxy/headers.js'

/** What upstreamHeaders reads of a request: its headers (as Node lower-cases them) and the client's address. */
function request (headers: Record<string, string | string[]>, remoteAddress?: string): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage
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
})
