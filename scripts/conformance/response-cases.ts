/*
 * Response-side cases: raw answers the upstream sends to a GET (or HEAD), many
 * of them followed by an answer of its own (`INJECT`). If a client ever reads
 * the injected answer, or its second request is answered with anything but
 * the upstream's answer to it, the proxy let the stream go out of step.
 */

export interface ResponseCase {
  family: string
  name: string
  /** the upstream's raw answer */
  bytes: string
  /** the upstream closes the connection after it */
  close?: boolean
  method?: 'GET' | 'HEAD'
  /** the ambiguous part: found in what the client received, the answer was forwarded as-is */
  probe?: string
}

export const INJECT = 'HTTP/1.1 200 OK\r\nx-injected: 1\r\ncontent-length: 8\r\n\r\nINJECTED'
const ok = (headers: string[], body: string): string => `HTTP/1.1 200 OK\r\n${headers.map(h => `${h}\r\n`).join('')}\r\n${body}`
const chunkedAnswer = (body: string): string => ok(['Transfer-Encoding: chunked'], body)

export const responseCases: ResponseCase[] = [
  { family: 'baseline', name: 'Content-Length answer', bytes: ok(['Content-Length: 5'], 'hello') },
  { family: 'baseline', name: 'chunked answer', bytes: chunkedAnswer('5\r\nhello\r\n0\r\n\r\n') },
  { family: 'baseline', name: 'chunked answer with a trailer', bytes: chunkedAnswer('5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n') },
  { family: 'baseline', name: 'chunk extension', bytes: chunkedAnswer('5;a=b\r\nhello\r\n0\r\n\r\n') },
  { family: 'baseline', name: 'status line without a reason', bytes: 'HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok' },
  { family: 'baseline', name: 'HTTP/1.0 answer ended by close', bytes: 'HTTP/1.0 200 OK\r\n\r\nuntil close', close: true },

  { family: 'bare CR/LF', name: 'last chunk then a bare LF', bytes: chunkedAnswer(`5\r\nhello\r\n0\r\n\n${INJECT}`), probe: '0\r\n\n' },
  { family: 'bare CR/LF', name: 'chunk data ended by a bare LF', bytes: chunkedAnswer(`5\r\nhello\n0\r\n\r\n${INJECT}`), probe: 'hello\n' },
  { family: 'bare CR/LF', name: 'chunk-size line ended by a bare LF', bytes: chunkedAnswer(`5\nhello\r\n0\r\n\r\n${INJECT}`), probe: '5\nhello' },
  { family: 'bare CR/LF', name: 'head lines ended by bare LF', bytes: `HTTP/1.1 200 OK\nContent-Length: 2\n\nok${INJECT}`, probe: 'OK\n' },
  { family: 'bare CR/LF', name: 'a header line ended by a bare LF', bytes: `HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok${INJECT}`, probe: 'X-A: 1\n' },
  { family: 'bare CR/LF', name: 'bare CR in a header value', bytes: ok(['X-A: a\rb', 'Content-Length: 2'], 'ok'), probe: 'a\rb' },

  { family: 'CL/TE', name: 'CL and TE chunked', bytes: ok(['Content-Length: 5', 'Transfer-Encoding: chunked'], `0\r\n\r\n${INJECT}`), probe: 'Content-Length: 5' },
  { family: 'CL/TE', name: 'two different CLs', bytes: ok(['Content-Length: 2', `Content-Length: ${2 + INJECT.length}`], `ok${INJECT}`), probe: 'Content-Length: 2\r\n' },
  { family: 'CL/TE', name: 'CL 2 then NBSP', bytes: ok(['Content-Length: 2\xa0'], `ok${INJECT}`), probe: '\xa0' },
  { family: 'CL/TE', name: 'CL -1', bytes: ok(['Content-Length: -1'], `ok${INJECT}`), probe: '-1' },
  { family: 'CL/TE', name: 'TE xchunked', bytes: ok(['Transfer-Encoding: xchunked'], `0\r\n\r\n${INJECT}`), close: true, probe: 'xchunked' },
  { family: 'CL/TE', name: 'TE gzip, chunked', bytes: ok(['Transfer-Encoding: gzip, chunked'], '0\r\n\r\n') },
  { family: 'CL/TE', name: 'CL with a space before the colon', bytes: ok(['Content-Length : 2'], `ok${INJECT}`), probe: 'Content-Length :' },

  { family: 'chunked', name: 'chunk size of 17 hex digits', bytes: chunkedAnswer(`10000000000000002\r\nok\r\n0\r\n\r\n${INJECT}`), probe: '10000000000000002' },
  { family: 'chunked', name: 'chunk size 0x2', bytes: chunkedAnswer(`0x2\r\nok\r\n0\r\n\r\n${INJECT}`), probe: '0x2' },
  { family: 'chunked', name: 'chunk data longer than its size', bytes: chunkedAnswer(`2\r\nokay\r\n0\r\n\r\n${INJECT}`), probe: 'okay' },
  { family: 'chunked', name: 'chunk extension with a bare LF', bytes: chunkedAnswer(`2;a\nok\r\n0\r\n\r\n${INJECT}`), probe: ';a\n' },
  { family: 'chunked', name: 'trailer with a space before its colon', bytes: chunkedAnswer(`2\r\nok\r\n0\r\nX-T : 1\r\n\r\n${INJECT}`), probe: 'X-T :' },

  { family: 'control bytes', name: 'NUL in a header value', bytes: ok(['X-A: a\x00b', 'Content-Length: 2'], 'ok'), probe: 'a\x00b' },
  { family: 'control bytes', name: 'obs-fold in a header', bytes: ok(['X-A: a', ' b', 'Content-Length: 2'], 'ok'), probe: 'a\r\n b' },
  { family: 'control bytes', name: 'header name with a space', bytes: ok(['X A: 1', 'Content-Length: 2'], 'ok'), probe: 'X A' },

  { family: 'status', name: 'status 2000', bytes: `HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok${INJECT}`, probe: '2000' },
  { family: 'status', name: 'HTTP/2.0 status line', bytes: `HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok${INJECT}`, probe: 'HTTP/2.0' },
  { family: 'status', name: '101 to a request without Upgrade', bytes: `HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n${INJECT}`, probe: '101' },
  { family: 'status', name: 'a head over 64 KiB', bytes: ok([`X-Big: ${'a'.repeat(70 * 1024)}`, 'Content-Length: 2'], 'ok'), probe: 'aaaaaaaa' },

  { family: '1xx/204/304/HEAD', name: '103 Early Hints before the answer', bytes: `HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n${ok(['Content-Length: 2'], 'ok')}` },
  { family: '1xx/204/304/HEAD', name: 'unasked 100 Continue before the answer', bytes: `HTTP/1.1 100 Continue\r\n\r\n${ok(['Content-Length: 2'], 'ok')}` },
  { family: '1xx/204/304/HEAD', name: '204 with body bytes', bytes: `HTTP/1.1 204 No Content\r\nContent-Length: ${INJECT.length}\r\n\r\n${INJECT}`, probe: 'INJECTED' },
  { family: '1xx/204/304/HEAD', name: '304 with body bytes', bytes: `HTTP/1.1 304 Not Modified\r\n\r\n${INJECT}`, probe: 'INJECTED' },
  { family: '1xx/204/304/HEAD', name: 'HEAD answered with a body', method: 'HEAD', bytes: `${ok(['Content-Length: 2'], 'ok')}${INJECT}`, probe: 'okHTTP' },
  { family: '1xx/204/304/HEAD', name: '204 chunked', bytes: `HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${INJECT}`, probe: 'INJECTED' }
]
