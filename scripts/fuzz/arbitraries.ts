import fc from 'fast-check'

/*
 * Generated HTTP/1 messages: well-formed request heads and response streams
 * built from the parts the fast path reads (and those it must refuse), then
 * mutated the ways smuggling and desync payloads are: a byte flipped, CR, LF,
 * NUL, NBSP and friends inserted, a header line duplicated or moved, bytes cut.
 */

const SPECIAL = ['\r', '\n', '\0', '\xa0', ' ', '\t', '\x0b', '\x0c', ':', ',', ';', '\x7f', '\xff', '0', '\r\n', '\r\n ']
const text = (chars: string, maxLength: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...chars), maxLength })
const VISIBLE = 'abcxyzABC0129-_.~!$&\'()*+,;=:@/?%# \t'

const headerValue = fc.oneof(
  { weight: 6, arbitrary: text(VISIBLE, 12) },
  { weight: 1, arbitrary: fc.tuple(text(VISIBLE, 6), fc.constantFrom(...SPECIAL), text(VISIBLE, 6)).map(([a, b, c]) => a + b + c) }
)
const headerName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('Host', 'host', 'X-Request-Id', 'X-Forwarded-For', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Accept', 'X-A', 'Upgrade', 'Expect', 'Keep-Alive', 'TE', 'X-Forwarded-Proto') },
  { weight: 1, arbitrary: text('abcXYZ-_!#0 \t:', 6) }
)
const lengthValue = fc.constantFrom('0', ' 0', '0 ', '00', '1', '5', '+0', '-0', '0x0', '0\xa0', '\xa00', '0,0', '99999999999999999999', '')
const header = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(headerName, headerValue) },
  { weight: 1, arbitrary: lengthValue.map(v => ['Content-Length', v] as [string, string]) },
  { weight: 1, arbitrary: fc.constantFrom('chunked', ' chunked', 'chunked ', 'identity', 'gzip, chunked', 'chunked, gzip').map(v => ['Transfer-Encoding', v] as [string, string]) },
  { weight: 1, arbitrary: fc.constantFrom('close', 'keep-alive', 'Close', 'x-a', 'close, keep-alive', 'upgrade').map(v => ['Connection', v] as [string, string]) }
)

export interface Mutation { kind: 'flip' | 'insert' | 'delete' | 'duplicate' | 'move', at: number, to: number, bytes: string }
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'insert', 'delete', 'duplicate', 'move'),
  at: fc.nat(),
  to: fc.nat(),
  bytes: fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0, max: 255 }).map(b => String.fromCharCode(b)))
})

/** `message` with `mutations` applied in turn (positions taken modulo its length); a line is duplicated or moved whole. */
export function mutate (message: string, mutations: readonly Mutation[]): string {
  let out = message
  for (const m of mutations) {
    const at = m.at % (out.length + 1)
    if (m.kind === 'flip') out = out.slice(0, at) + m.bytes + out.slice(at + 1)
    else if (m.kind === 'insert') out = out.slice(0, at) + m.bytes + out.slice(at)
    else if (m.kind === 'delete') out = out.slice(0, at) + out.slice(at + 1 + (m.to % 3))
    else {
      const lines = out.split('\r\n')
      const from = m.at % lines.length
      const line = lines[from]
      if (m.kind === 'move') lines.splice(from, 1)
      lines.splice(m.to % (lines.length + 1), 0, line)
      out = lines.join('\r\n')
    }
  }
  return out
}

const requestLine = fc.record({
  method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'HEAD') }, { weight: 1, arbitrary: fc.constantFrom('POST', 'get', 'G@T', 'OPTIONS', 'CONNECT', '') }),
  target: fc.oneof(
    { weight: 8, arbitrary: fc.tuple(text('abz09-._~/', 8), fc.option(text('id=12&x%/:@', 10))).map(([p, q]) => `/${p}${q === null ? '' : `?${q}`}`) },
    { weight: 1, arbitrary: fc.constantFrom('*', 'http://other.example/a', 'other.example:80', 'a', '/a#b', '/%2e%2e/', '//a') }
  ),
  version: fc.oneof({ weight: 8, arbitrary: fc.constant(' HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom(' HTTP/1.0', ' HTTP/1.2', '', ' HTTP/2.0', ' http/1.1', ' HTTP/1.1 ') })
})

/** A request head (Host first, usually), maybe a second request after it, then mutations. */
export const requestBytes: fc.Arbitrary<Buffer> = fc.record({
  line: requestLine,
  host: fc.option(fc.constantFrom('h.test', 'h.test:80', '127.0.0.1', '[::1]:8080', 'h test', 'h.test\xa0')),
  headers: fc.array(header, { maxLength: 6 }),
  next: fc.boolean(),
  mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) })
}).map(({ line, host, headers, next, mutations }) => {
  const lines = [`${line.method} ${line.target}${line.version}`, ...(host === null ? [] : [`Host: ${host}`]), ...headers.map(([n, v]) => `${n}: ${v}`)]
  const message = `${lines.join('\r\n')}\r\n\r\n${next ? 'GET /next HTTP/1.1\r\nHost: h.test\r\n\r\n' : ''}`
  return Buffer.from(mutate(message, mutations), 'latin1')
})

const chunkedBody = fc.record({
  chunks: fc.array(fc.tuple(text('abc\r\n0', 12), fc.constantFrom('', ';a=b', ';a', ' ;a', ';a="b c"', '\t')), { maxLength: 3 }),
  trailers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 2 })
}).map(({ chunks, trailers }) => chunks.filter(([data]) => data !== '').map(([data, ext]) => `${data.length.toString(16)}${ext}\r\n${data}\r\n`).join('') +
  `0\r\n${trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`)

/** An answer stream: maybe a 1xx first, a head with its framing, its body, the next answer, then mutations. */
export const responseBytes: fc.Arbitrary<{ bytes: Buffer, method: 'GET' | 'HEAD' }> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD'),
  interim: fc.option(fc.constantFrom('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n'), { freq: 6 }),
  status: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.0 200 OK', 'HTTP/1.1 204 No Content', 'HTTP/1.1 304 Not Modified', 'HTTP/1.1 200 ') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.1 101 Switching', 'HTTP/1.1 2000 OK', 'HTTP/2.0 200 OK', 'HTTP/1.1 099 X', 'HTTP/1.1 200\tOK') }),
  framing: fc.constantFrom('length', 'length', 'chunked', 'chunked', 'both', 'none'),
  body: text('abc\r\n', 10),
  chunked: chunkedBody,
  headers: fc.array(header, { maxLength: 3 }),
  mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) })
}).map(({ method, interim, status, framing, body, chunked, headers, mutations }) => {
  const framingLines = framing === 'length' ? [`Content-Length: ${body.length}`] : framing === 'chunked' ? ['Transfer-Encoding: chunked'] : framing === 'both' ? [`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'] : []
  const lines = [status, ...framingLines, ...headers.map(([n, v]) => `${n}: ${v}`)]
  const content = framing === 'chunked' || framing === 'both' ? chunked : body
  const message = `${interim ?? ''}${lines.join('\r\n')}\r\n\r\n${content}HTTP/1.1 200 OK\r\nx-next: 1\r\nContent-Length: 0\r\n\r\n`
  return { bytes: Buffer.from(mutate(message, mutations), 'latin1'), method: method as 'GET' | 'HEAD' }
})
