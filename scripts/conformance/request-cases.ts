/*
 * Request-side cases, one family of ambiguous input after another (see
 * docs/http-strictness.md). Each is raw bytes around two targets: its own
 * (`p`, which the upstream echoes) and one for a request hidden inside it
 * (`s`): if `s` ever reaches the upstream, the case smuggled a request.
 */

export interface RequestCase {
  family: string
  name: string
  bytes: (p: string, s: string) => string
  /** the ambiguous part (given the case's target): found in what reached the upstream, the case was forwarded as-is */
  probe?: string | ((p: string) => string)
  method?: string
  /** byte offsets where the bytes are cut into separate writes, 30 ms apart */
  split?: number[]
}

const HOST = 'Host: h.test\r\n'
const head = (method: string, p: string, headers: string[], version = 'HTTP/1.1'): string =>
  `${method} ${p} ${version}\r\n${HOST}${headers.map(h => `${h}\r\n`).join('')}\r\n`
const get = (p: string, ...headers: string[]): string => head('GET', p, headers)
const post = (p: string, headers: string[], body: string): string => head('POST', p, headers) + body
export const hidden = (s: string): string => `GET ${s} HTTP/1.1\r\n${HOST}\r\n`
const chunk = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n`

/** A Content-Length covering the whole body, and a Transfer-Encoding header (as given) that would end it at `0`: the hidden request follows. */
const clte = (te: string) => (p: string, s: string): string => {
  const body = `0\r\n\r\n${hidden(s)}`
  return post(p, [`Content-Length: ${body.length}`, te], body)
}
/** Transfer-Encoding honoured, a short Content-Length read: the hidden request is a chunk's data. */
const tecl = (te: string) => (p: string, s: string): string => {
  const data = hidden(s)
  const body = `${chunk(data)}0\r\n\r\n`
  return post(p, [`Content-Length: ${data.length.toString(16).length + 2}`, te], body)
}
/** A request whose Content-Length header (as given) a strict reader takes as malformed, a loose one as 0. */
const cl = (header: string) => (p: string, s: string): string => post(p, [header], hidden(s))
/** A chunked body (as given) with the hidden request after its end as one reader sees it. */
const chunked = (body: string) => (p: string, s: string): string => post(p, ['Transfer-Encoding: chunked'], body.replace('{S}', hidden(s)))

export const requestCases: RequestCase[] = [
  { family: 'baseline', name: 'GET', bytes: p => get(p) },
  { family: 'baseline', name: 'POST with a Content-Length body', bytes: p => post(p, ['Content-Length: 5'], 'hello') },
  { family: 'baseline', name: 'POST chunked', bytes: p => post(p, ['Transfer-Encoding: chunked'], `${chunk('hello')}0\r\n\r\n`) },
  { family: 'baseline', name: 'HTTP/1.0 without Host', bytes: p => `GET ${p} HTTP/1.0\r\n\r\n`, method: 'GET' },

  { family: 'CL/TE', name: 'CL and TE chunked (CL.TE)', bytes: clte('Transfer-Encoding: chunked'), probe: 'Content-Length' },
  { family: 'CL/TE', name: 'TE chunked and short CL (TE.CL)', bytes: tecl('Transfer-Encoding: chunked'), probe: 'Content-Length' },
  { family: 'CL/TE', name: 'TE xchunked with CL', bytes: clte('Transfer-Encoding: xchunked'), probe: 'xchunked' },
  { family: 'CL/TE', name: 'TE chunked with a trailing space', bytes: clte('Transfer-Encoding: chunked '), probe: 'Content-Length' },
  { family: 'CL/TE', name: 'TE with a space before the colon', bytes: clte('Transfer-Encoding : chunked'), probe: 'Transfer-Encoding :' },
  { family: 'CL/TE', name: 'TE after a tab', bytes: clte('Transfer-Encoding:\tchunked'), probe: 'Content-Length' },
  { family: 'CL/TE', name: 'TE chunked, identity', bytes: clte('Transfer-Encoding: chunked, identity'), probe: 'identity' },
  { family: 'CL/TE', name: 'TE gzip, chunked with CL', bytes: clte('Transfer-Encoding: gzip, chunked'), probe: 'Content-Length' },
  { family: 'CL/TE', name: 'TE chunked twice', bytes: clte('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked'), probe: 'Content-Length' },
  { family: 'CL/TE', name: 'TE chunked then TE x', bytes: clte('Transfer-Encoding: chunked\r\nTransfer-Encoding: x'), probe: 'Transfer-Encoding: x' },
  { family: 'CL/TE', name: 'TE in upper case', bytes: clte('TRANSFER-ENCODING: CHUNKED'), probe: 'Content-Length' },
  { family: 'CL/TE', name: 'TE obs-folded', bytes: clte('Transfer-Encoding:\r\n chunked'), probe: 'Transfer-Encoding:\r\n' },
  { family: 'CL/TE', name: 'TE after a vertical tab', bytes: clte('Transfer-Encoding:\x0bchunked'), probe: '\x0b' },
  { family: 'CL/TE', name: 'TE after an NBSP', bytes: clte('Transfer-Encoding:\xa0chunked'), probe: '\xa0' },
  { family: 'CL/TE', name: 'Transfer_Encoding with an underscore', bytes: clte('Transfer_Encoding: chunked'), probe: 'Transfer_Encoding' },
  { family: 'CL/TE', name: 'TE chunked on HTTP/1.0', bytes: (p, s) => clte('Transfer-Encoding: chunked')(p, s).replace('HTTP/1.1', 'HTTP/1.0'), probe: 'Content-Length' },
  // a proxy that drops a header Connection lists after framing the body by it sends the body unframed
  { family: 'CL/TE', name: 'Connection naming Content-Length', bytes: (p, s) => post(p, ['Connection: Content-Length', `Content-Length: ${hidden(s).length}`], hidden(s)), probe: 'Connection: Content-Length' },
  { family: 'CL/TE', name: 'Connection naming Transfer-Encoding', bytes: (p, s) => post(p, ['Connection: Transfer-Encoding', 'Transfer-Encoding: chunked'], `${chunk(hidden(s))}0\r\n\r\n`), probe: 'Connection: Transfer-Encoding' },

  { family: 'Content-Length', name: 'two different CLs', bytes: (p, s) => post(p, ['Content-Length: 0', `Content-Length: ${hidden(s).length}`], hidden(s)), probe: 'Content-Length: 0' },
  { family: 'Content-Length', name: 'two equal CLs', bytes: p => post(p, ['Content-Length: 5', 'Content-Length: 5'], 'hello'), probe: 'Content-Length: 5\r\nContent-Length: 5' },
  { family: 'Content-Length', name: 'CL list "5, 5"', bytes: p => post(p, ['Content-Length: 5, 5'], 'hello'), probe: '5, 5' },
  { family: 'Content-Length', name: 'CL +5', bytes: p => post(p, ['Content-Length: +5'], 'hello'), probe: '+5' },
  { family: 'Content-Length', name: 'CL -1', bytes: cl('Content-Length: -1'), probe: '-1' },
  { family: 'Content-Length', name: 'CL 0x5', bytes: p => post(p, ['Content-Length: 0x5'], 'hello'), probe: '0x5' },
  { family: 'Content-Length', name: 'CL 0 then NBSP', bytes: cl('Content-Length: 0\xa0'), probe: '\xa0' },
  { family: 'Content-Length', name: 'CL NBSP then 0', bytes: cl('Content-Length:\xa00'), probe: '\xa0' },
  { family: 'Content-Length', name: 'CL 0 then a vertical tab', bytes: cl('Content-Length: 0\x0b'), probe: '\x0b' },
  { family: 'Content-Length', name: 'CL 0 then a form feed', bytes: cl('Content-Length: 0\x0c'), probe: '\x0c' },
  { family: 'Content-Length', name: 'CL 0 then NUL', bytes: cl('Content-Length: 0\x00'), probe: '\x00' },
  { family: 'Content-Length', name: 'CL of 20 digits', bytes: cl('Content-Length: 99999999999999999999'), probe: '99999999999999999999' },
  { family: 'Content-Length', name: 'CL with a space before the colon', bytes: cl('Content-Length : 0'), probe: 'Content-Length :' },
  { family: 'Content-Length', name: 'CL obs-folded', bytes: cl('Content-Length:\r\n 0'), probe: 'Content-Length:\r\n' },
  { family: 'Content-Length', name: 'GET with CL 0 then NBSP', bytes: (p, s) => get(p, 'Content-Length: 0\xa0') + hidden(s), probe: '\xa0' },

  { family: 'bare CR/LF', name: 'all lines end in bare LF', bytes: p => `GET ${p} HTTP/1.1\nHost: h.test\n\n`, probe: 'HTTP/1.1\n' },
  { family: 'bare CR/LF', name: 'request line ends in bare LF', bytes: p => `GET ${p} HTTP/1.1\n${HOST}\r\n`, probe: 'HTTP/1.1\n' },
  { family: 'bare CR/LF', name: 'a header line ends in bare LF', bytes: p => `GET ${p} HTTP/1.1\r\nX-A: 1\n${HOST}\r\n`, probe: 'X-A: 1\n' },
  { family: 'bare CR/LF', name: 'head ends in LF LF', bytes: p => `GET ${p} HTTP/1.1\r\n${HOST}\n\n`, probe: 'h.test\r\n\n' },
  { family: 'bare CR/LF', name: 'bare CR inside a header value', bytes: p => get(p, 'X-A: a\rb'), probe: 'a\rb' },
  { family: 'bare CR/LF', name: 'bare CR ends a header line', bytes: p => `GET ${p} HTTP/1.1\r\nX-A: 1\r${HOST}\r\n`, probe: 'X-A: 1\r' },
  { family: 'bare CR/LF', name: 'bare LF hides Transfer-Encoding', bytes: clte('X-A: 1\nTransfer-Encoding: chunked'), probe: 'X-A: 1\n' },
  { family: 'bare CR/LF', name: 'bare LF in a chunk-size line', bytes: chunked('5\nhello\r\n0\r\n\r\n'), probe: '5\nhello' },

  { family: 'obs-fold', name: 'folded header value', bytes: p => get(p, 'X-A: a', ' b'), probe: 'X-A: a\r\n b' },
  { family: 'obs-fold', name: 'folded Host', bytes: p => `GET ${p} HTTP/1.1\r\nHost: h\r\n .test\r\n\r\n`, probe: '\r\n .test' },
  { family: 'obs-fold', name: 'header line starting with a space', bytes: p => `GET ${p} HTTP/1.1\r\n X-A: 1\r\n${HOST}\r\n`, probe: ' X-A' },

  { family: 'control bytes', name: 'NUL in a header value', bytes: p => get(p, 'X-A: a\x00b'), probe: 'a\x00b' },
  { family: 'control bytes', name: 'DEL in a header value', bytes: p => get(p, 'X-A: a\x7fb'), probe: 'a\x7fb' },
  { family: 'control bytes', name: 'ESC in a header value', bytes: p => get(p, 'X-A: a\x1bb'), probe: 'a\x1bb' },
  { family: 'control bytes', name: 'NUL in a header name', bytes: p => get(p, 'X-\x00A: 1'), probe: 'X-\x00A' },
  { family: 'control bytes', name: 'space inside a header name', bytes: p => get(p, 'X A: 1'), probe: 'X A' },
  { family: 'control bytes', name: 'empty header name', bytes: p => get(p, ': 1'), probe: '\r\n: 1' },
  { family: 'control bytes', name: 'obs-text (0xff) in a header value', bytes: p => get(p, 'X-A: caf\xe9'), probe: 'caf\xe9' },
  { family: 'control bytes', name: 'NBSP ends a Host value', bytes: p => `GET ${p} HTTP/1.1\r\nHost: h.test\xa0\r\n\r\n`, probe: '\xa0' },
  { family: 'control bytes', name: 'TLS ClientHello on the plain port', bytes: () => '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' + 'R'.repeat(32) + '\x00\x00\x04\x13\x01\x00\xff\x01\x00' },
  { family: 'control bytes', name: 'HTTP/2 preface on the plain port', bytes: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' },

  { family: 'singletons', name: 'two Host headers', bytes: p => `GET ${p} HTTP/1.1\r\nHost: h.test\r\nHost: other.test\r\n\r\n`, probe: 'other.test' },
  { family: 'singletons', name: 'two equal Host headers', bytes: p => `GET ${p} HTTP/1.1\r\nHost: h.test\r\nHost: h.test\r\n\r\n`, probe: 'Host: h.test\r\nHost: h.test' },
  { family: 'singletons', name: 'no Host on HTTP/1.1', bytes: p => `GET ${p} HTTP/1.1\r\nX-A: 1\r\n\r\n`, probe: 'X-A: 1' },
  { family: 'singletons', name: 'Host with a space inside', bytes: p => `GET ${p} HTTP/1.1\r\nHost: h .test\r\n\r\n`, probe: 'h .test' },
  { family: 'singletons', name: 'Host with userinfo', bytes: p => `GET ${p} HTTP/1.1\r\nHost: u@h.test\r\n\r\n`, probe: 'u@h.test' },

  { family: 'targets', name: 'absolute-form target', bytes: p => get(`http://other.example${p}`), probe: 'other.example' },
  { family: 'targets', name: 'absolute-form target, HTTP/1.0', bytes: p => `GET http://other.example${p} HTTP/1.0\r\n\r\n`, probe: 'other.example' },
  { family: 'targets', name: 'absolute-form target, https', bytes: p => get(`https://other.example${p}`), probe: 'other.example' },
  { family: 'targets', name: 'authority-form target on GET', bytes: p => get('other.example:80', `X-Case: ${p}`), probe: 'other.example' },
  { family: 'targets', name: 'asterisk-form on GET', bytes: p => get('*', `X-Case: ${p}`), probe: 'GET * ' },
  { family: 'targets', name: 'target without a leading slash', bytes: p => get(p.slice(1)), probe: 'GET c' },
  { family: 'targets', name: 'fragment in the target', bytes: p => get(`${p}#frag`), probe: '#frag' },
  { family: 'targets', name: 'space inside the target', bytes: p => `GET ${p} x HTTP/1.1\r\n${HOST}\r\n`, probe: ' x HTTP' },
  { family: 'targets', name: 'tab inside the target', bytes: p => `GET ${p}\tx HTTP/1.1\r\n${HOST}\r\n`, probe: '\tx' },
  { family: 'targets', name: 'NUL inside the target', bytes: p => `GET ${p}\x00x HTTP/1.1\r\n${HOST}\r\n`, probe: '\x00' },
  { family: 'targets', name: 'DEL inside the target', bytes: p => `GET ${p}\x7fx HTTP/1.1\r\n${HOST}\r\n`, probe: '\x7f' },
  { family: 'targets', name: 'obs-text (0xff) inside the target', bytes: p => `GET ${p}\xff HTTP/1.1\r\n${HOST}\r\n`, probe: '\xff' },
  { family: 'targets', name: 'CONNECT', bytes: () => `CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n`, probe: 'CONNECT' },

  { family: 'versions', name: 'request line without a version', bytes: p => `GET ${p}\r\n${HOST}\r\n`, probe: p => `${p}\r\n` },
  { family: 'versions', name: 'HTTP/0.9 request', bytes: p => `GET ${p}\r\n` },
  { family: 'versions', name: 'HTTP/1.2', bytes: p => head('GET', p, [], 'HTTP/1.2'), probe: 'HTTP/1.2' },
  { family: 'versions', name: 'HTTP/2.0 on the plain port', bytes: p => head('GET', p, [], 'HTTP/2.0'), probe: 'HTTP/2.0' },
  { family: 'versions', name: 'HTTP/01.1', bytes: p => head('GET', p, [], 'HTTP/01.1'), probe: 'HTTP/01.1' },
  { family: 'versions', name: 'lower-case http/1.1', bytes: p => head('GET', p, [], 'http/1.1'), probe: 'http/1.1' },
  { family: 'versions', name: 'space after the version', bytes: p => head('GET', p, [], 'HTTP/1.1 '), probe: 'HTTP/1.1 ' },
  { family: 'versions', name: 'two spaces after the method', bytes: p => `GET  ${p} HTTP/1.1\r\n${HOST}\r\n`, probe: 'GET  ' },

  { family: 'methods', name: 'lower-case method', bytes: p => head('get', p, []), probe: 'get ' },
  { family: 'methods', name: 'method with an @', bytes: p => head('G@T', p, []), probe: 'G@T' },
  { family: 'methods', name: 'unknown token method', bytes: p => head('FOO', p, []), probe: 'FOO' },
  { family: 'methods', name: 'method of 200 letters', bytes: p => head('A'.repeat(200), p, []), probe: 'AAAAAAAA' },

  { family: 'sizes', name: 'a 20 KiB header', bytes: p => get(p, `X-Big: ${'a'.repeat(20 * 1024)}`), probe: 'aaaaaaaa' },
  { family: 'sizes', name: '300 headers', bytes: p => get(p, ...Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`)), probe: 'X-H299' },
  { family: 'sizes', name: 'a 12 KiB target', bytes: p => get(`${p}&pad=${'a'.repeat(12 * 1024)}`), probe: 'aaaaaaaa' },

  { family: 'pipelining', name: 'head split between CR and LF', bytes: p => get(p), split: [16] },
  { family: 'pipelining', name: 'head written a few bytes at a time', bytes: p => get(p, 'X-A: 1'), split: [3, 9, 20, 31, 40] },
  { family: 'pipelining', name: 'CL.TE split before the hidden request', bytes: clte('Transfer-Encoding: chunked'), probe: 'Content-Length', split: [60] },
  { family: 'pipelining', name: 'a HEAD, then the next', bytes: p => head('HEAD', p, []), method: 'HEAD' },

  { family: 'chunked', name: 'chunk size 0x5', bytes: chunked('0x5\r\nhello\r\n0\r\n\r\n{S}'), probe: '0x5' },
  { family: 'chunked', name: 'chunk size with a leading space', bytes: chunked(' 5\r\nhello\r\n0\r\n\r\n'), probe: ' 5\r\n' },
  { family: 'chunked', name: 'chunk size with a trailing space', bytes: chunked('5 \r\nhello\r\n0\r\n\r\n'), probe: '5 \r\n' },
  { family: 'chunked', name: 'chunk size of 17 hex digits', bytes: chunked('10000000000000005\r\nhello\r\n0\r\n\r\n'), probe: '10000000000000005' },
  { family: 'chunked', name: 'chunk size -1', bytes: chunked('-1\r\nhello\r\n0\r\n\r\n'), probe: '-1' },
  { family: 'chunked', name: 'chunk extension', bytes: chunked('5;a=b\r\nhello\r\n0\r\n\r\n') },
  { family: 'chunked', name: 'chunk extension with a bare LF', bytes: chunked('5;a\nb\r\nhello\r\n0\r\n\r\n'), probe: ';a\n' },
  { family: 'chunked', name: 'chunk data longer than its size', bytes: chunked('3\r\nhello\r\n0\r\n\r\n'), probe: '3\r\nhello' },
  { family: 'chunked', name: 'chunk data without its CRLF', bytes: chunked('5\r\nhello0\r\n\r\n'), probe: 'hello0' },
  { family: 'chunked', name: 'last chunk then a bare LF', bytes: chunked('5\r\nhello\r\n0\r\n\n{S}'), probe: '0\r\n\n' },
  { family: 'chunked', name: 'trailer with Content-Length', bytes: chunked('5\r\nhello\r\n0\r\nContent-Length: 0\r\n\r\n'), probe: 'Content-Length: 0' },

  { family: 'other', name: 'Expect: 100-continue', bytes: p => post(p, ['Content-Length: 5', 'Expect: 100-continue'], 'hello') },
  { family: 'other', name: 'Upgrade: websocket on GET', bytes: p => get(p, 'Connection: Upgrade', 'Upgrade: websocket'), probe: 'websocket' },
  { family: 'other', name: 'Connection naming X-A', bytes: p => get(p, 'Connection: X-A', 'X-A: 1'), probe: 'X-A: 1' }
]
