import { type RequestRead, readRequestHead, responseHeadEnd } from '../../lib/proxy/fast-path/heads.js'
import { BadResponse, ChunkedEnd, parseResponseHead } from '../../lib/proxy/fast-path/http1.js'

/*
 * What the fast path decides on the same bytes, through the functions it
 * calls itself (lib/proxy/fast-path/heads.ts and http1.ts): for a request, whether it
 * forwards it (and where its head ends), hands the connection to Node, or
 * waits for more; for an answer, where its head and its end are, or that it is
 * refused (a 502, or the client's connection closed mid-answer).
 */

export function fastReadsRequest (bytes: Buffer): RequestRead {
  return readRequestHead(bytes)
}

export type FastResponse =
  | { kind: 'incomplete' }
  | { kind: 'refused', reason: string }
  | { kind: 'end', at: number, headAt: number, status: number }

/** As the fast path's exchange reads an answer (exchange.ts): interim heads skipped, then the final one's framing followed. */
export function fastReadsResponse (bytes: Buffer, method: 'GET' | 'HEAD'): FastResponse {
  let start = 0
  try {
    for (;;) {
      const end = responseHeadEnd(bytes, start)
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
