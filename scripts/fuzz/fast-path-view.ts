import { BadResponse, ChunkedEnd, type RequestHead, headEnd, parseRequestHead, parseResponseHead } from '../../lib/http1.js'

/*
 * What the fast path decides on the same bytes, through the same functions
 * it calls (lib/http1.ts): for a request, whether it forwards it (and where
 * its head ends), hands the connection to Node, or waits for more; for an
 * answer, where its head and its end are, or that it is refused (a 502).
 */

const MAX_REQUEST_HEAD = 16 * 1024

export type FastRequest = { kind: 'wait' } | { kind: 'handoff' } | { kind: 'forward', head: RequestHead, end: number }

export function fastReadsRequest (bytes: Buffer): FastRequest {
  const end = headEnd(bytes)
  if (end === -1) return bytes.length > MAX_REQUEST_HEAD ? { kind: 'handoff' } : { kind: 'wait' }
  if (end > MAX_REQUEST_HEAD) return { kind: 'handoff' }
  const head = parseRequestHead(bytes.toString('latin1', 0, end))
  return head === undefined ? { kind: 'handoff' } : { kind: 'forward', head, end: end + 4 }
}

export type FastResponse =
  | { kind: 'incomplete' }
  | { kind: 'refused', reason: string }
  | { kind: 'end', at: number, headAt: number, status: number }

export function fastReadsResponse (bytes: Buffer, method: 'GET' | 'HEAD'): FastResponse {
  let start = 0
  try {
    for (;;) {
      const end = bytes.indexOf('\r\n\r\n', start, 'latin1')
      if (end === -1) return { kind: 'incomplete' }
      const response = parseResponseHead(bytes.toString('latin1', start, end), method)
      start = end + 4
      if (response.statusCode < 200) continue
      const { framing } = response
      if (framing.kind === 'none') return { kind: 'end', at: start, headAt: start, status: response.statusCode }
      if (framing.kind === 'length') {
        return bytes.length >= start + framing.length ? { kind: 'end', at: start + framing.length, headAt: start, status: response.statusCode } : { kind: 'incomplete' }
      }
      if (framing.kind === 'close') return { kind: 'incomplete' }
      const at = new ChunkedEnd().scan(bytes, start)
      return at === -1 ? { kind: 'incomplete' } : { kind: 'end', at, headAt: start, status: response.statusCode }
    }
  } catch (error) {
    if (error instanceof BadResponse) return { kind: 'refused', reason: error.message }
    throw error
  }
}
