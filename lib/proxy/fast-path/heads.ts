import { BadResponse, DEFAULT_KEY_HEADERS, HEADER_LINE, type RequestHead, STATUS_LINE, parseRequestHead } from './http1.js'

/*
 * Heads read out of the bytes as they arrive: where a request head or an
 * answer's head ends, and, while it has not all come, whether what came
 * already rules it out. A head that is malformed from its first bytes is
 * judged then, as Node's parser judges it, not after a wait for a blank line
 * that may never come (docs/http-strictness.md).
 */

/** The longest request head the fast path reads; a longer one is left to Node (which answers 431). */
const MAX_REQUEST_HEAD = 16 * 1024
/** The longest response head passed on: Node's and undici's default, so both paths refuse the same answers */
const MAX_RESPONSE_HEAD = 16 * 1024

/** What the fast path does with the bytes of a request buffered so far. */
export type RequestRead =
  | { kind: 'wait' }
  /** not a request for the fast path (or not one at all): the connection goes to Node's HTTP server */
  | { kind: 'handoff' }
  /** a head to forward, ending at byte `end` (after its blank line) */
  | { kind: 'head', head: RequestHead, end: number }

/** Reads the request at the start of `buffered` as the fast path takes it. */
export function readRequestHead (buffered: Buffer, keyHeaders: ReadonlySet<string> = DEFAULT_KEY_HEADERS): RequestRead {
  const end = buffered.indexOf('\r\n\r\n', 0, 'latin1')
  if (end === -1) return buffered.length > MAX_REQUEST_HEAD || partialHeadRefused(buffered, keyHeaders) ? { kind: 'handoff' } : { kind: 'wait' }
  if (end > MAX_REQUEST_HEAD) return { kind: 'handoff' }
  const head = parseRequestHead(buffered.toString('latin1', 0, end), keyHeaders)
  return head === undefined ? { kind: 'handoff' } : { kind: 'head', head, end: end + 4 }
}

/**
 * Where the response head starting at byte `start` of `data` ends (the index
 * of its blank line), or -1 while it has not all arrived. Throws BadResponse
 * for a head over 16 KiB, or one already malformed before its end.
 */
export function responseHeadEnd (data: Buffer, start: number): number {
  const end = data.indexOf('\r\n\r\n', start, 'latin1')
  if ((end === -1 ? data.length : end) - start > MAX_RESPONSE_HEAD) throw new BadResponse('response head too large')
  if (end !== -1) return end
  const fault = partialResponseFault(data, start)
  if (fault !== undefined) throw new BadResponse(fault)
  return -1
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/
/** bytes no head line may hold (a CR is checked where its line ends) */
const NOT_IN_A_LINE = /[\x00-\x08\x0a-\x1f\x7f]/

/**
 * Whether `line`, the start of a request line, can still become one the fast
 * path forwards; when it is `whole` (a CR came after it), whether it is one.
 */
function beginsRequestLine (line: string, whole: boolean): boolean {
  const method = line.startsWith('GET ') ? 4 : line.startsWith('HEAD ') ? 5 : 0
  if (method === 0) return !whole && ('GET '.startsWith(line) || 'HEAD '.startsWith(line))
  const space = line.indexOf(' ', method)
  const target = space === -1 ? line.slice(method) : line.slice(method, space)
  if (!/^(?:\/[!-"$-~]*)?$/.test(target)) return false
  if (space === -1) return !whole
  const version = line.slice(space + 1)
  return whole ? version === 'HTTP/1.1' : 'HTTP/1.1'.startsWith(version)
}

/**
 * Whether a request head that has begun to arrive, not whole yet, can already
 * not be one the fast path forwards: its lines so far, the one still arriving
 * included once it has its colon, read as the fast path will read them, and
 * no byte a line may not hold. Its connection then goes to Node at once, which
 * refuses a malformed head straight away, where waiting for its blank line
 * would hang (lines in bare LF, an invalid method, a TLS ClientHello on the
 * plain port). Each call reads the whole start again: a head not whole in one
 * read is rare, and at most 16 KiB.
 */
export function partialHeadRefused (buffer: Buffer, keyHeaders: ReadonlySet<string> = DEFAULT_KEY_HEADERS): boolean {
  const lastEnd = buffer.lastIndexOf('\r\n', buffer.length, 'latin1')
  const start = lastEnd === -1 ? 0 : lastEnd + 2
  const last = buffer[buffer.length - 1] === 0x0d ? buffer.length - 1 : buffer.length
  const rest = buffer.toString('latin1', start, last)
  if (NOT_IN_A_LINE.test(rest) || (start === 0 && !beginsRequestLine(rest, last < buffer.length))) return true
  const named = rest.includes(':')
  // a header name still arriving is a token so far, and a line cannot end before its colon
  if (start > 0 && !named && (!HEADER_NAME.test(rest) || (last < buffer.length && rest !== ''))) return true
  const upTo = start > 0 && named ? last : lastEnd
  return upTo >= 0 && parseRequestHead(buffer.toString('latin1', 0, upTo), keyHeaders, false) === undefined
}

/**
 * Why the start of an answer's head, not whole yet, is already malformed, or
 * undefined: a bare LF or CR or a control byte from `start` on, or a complete
 * line that is not a status line or a header line. Found now, it is a 502 at
 * once rather than a wait for a blank line that may never come.
 */
export function partialResponseFault (data: Buffer, start: number): string | undefined {
  let lineStart = start
  for (const [offset, byte] of data.subarray(start).entries()) {
    const i = start + offset
    if (byte === 0x0a) {
      if (i === start || data[i - 1] !== 0x0d) return 'bare LF in the response head'
      const line = data.toString('latin1', lineStart, i - 1)
      if (!(lineStart === start ? STATUS_LINE : HEADER_LINE).test(line)) return `malformed response head line: ${JSON.stringify(line.slice(0, 80))}`
      lineStart = i + 1
    } else if (byte === 0x0d) {
      if (i + 1 < data.length && data[i + 1] !== 0x0a) return 'bare CR in the response head'
    } else if ((byte < 0x20 && byte !== 0x09) || byte === 0x7f) {
      return 'control byte in the response head'
    }
  }
  return undefined
}
