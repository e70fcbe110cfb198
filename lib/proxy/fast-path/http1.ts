import { HOP_BY_HOP, HOST_VALUE, balancerWrites, connectionOptions, isPersistenceOption, trimOws } from '../headers.js'

/*
 * Just enough of HTTP/1.1 (RFC 9112) for the fast path (fast-path.ts):
 * reading a request head it may forward as it is, a response head, and where
 * a chunked body ends. Anything it is not sure of is left to Node's parser:
 * a request head it declines goes to the HTTP server whole.
 */

/** A header line: a token, a colon, then visible characters, spaces and tabs only (no CR, LF or NUL inside). */
export const HEADER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/
/** GET and HEAD on an origin-form target of visible ASCII: the requests without a body to forward */
const REQUEST_LINE = /^(GET|HEAD) (\/[!-"$-~]*) HTTP\/1\.1$/
export const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/

/** the headers the default key (LB_HASH_KEY) reads */
export const DEFAULT_KEY_HEADERS: ReadonlySet<string> = new Set(['x-request-id'])

export interface RequestHead {
  method: 'GET' | 'HEAD'
  /** path and query, as sent */
  target: string
  /** the target's path, before any `?` */
  path: string
  /** the query string after `?`, or '' */
  query: string
  /** the header lines to forward as they came: hop-by-hop ones and Host left out */
  lines: string[]
  host: string | undefined
  /** the values of the headers the request's key is read from (LB_HASH_KEY), by lower-case name */
  keyHeaders: Record<string, string>
  forwardedFor: string | undefined
  /** the client asked to close the connection after this answer */
  close: boolean
}

/**
 * A request head the fast path can forward, or undefined for one it leaves
 * to Node's HTTP server: other methods, a body, Expect, Upgrade, HTTP/1.0,
 * no Host, an encoded path or a `#` (the router decodes and cuts there), a
 * Connection header naming other headers, repeated headers the balancer
 * reads, or anything malformed.
 */
export function parseRequestHead (head: string, keyHeaders: ReadonlySet<string> = DEFAULT_KEY_HEADERS, whole = true): RequestHead | undefined {
  const lines = head.split('\r\n')
  const start = REQUEST_LINE.exec(lines[0])
  if (start === null) return undefined
  const target = start[2]
  const q = target.indexOf('?')
  const path = q === -1 ? target : target.slice(0, q)
  // the router decodes %xx before it matches the balancer's own routes: let it
  if (path.includes('%')) return undefined
  let sawLength = false
  const request: RequestHead = { method: start[1] as 'GET' | 'HEAD', target, path, query: q === -1 ? '' : target.slice(q + 1), lines: [], host: undefined, keyHeaders: {}, forwardedFor: undefined, close: false }
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]
    if (!HEADER_LINE.test(line)) return undefined
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toLowerCase()
    const value = trimOws(line.slice(colon + 1))
    if (keyHeaders.has(name)) {
      // Node's parser would join repeats into one value: the key must not depend on the transport
      if (name in request.keyHeaders) return undefined
      request.keyHeaders[name] = value
    }
    switch (name) {
      case 'host':
        if (request.host !== undefined || !HOST_VALUE.test(value)) return undefined
        request.host = value
        continue
      case 'x-forwarded-for':
        if (request.forwardedFor !== undefined) return undefined
        request.forwardedFor = value
        continue
      case 'content-length':
        // Node's parser takes spaces after the digits but not a tab
        if (value !== '0' || line.endsWith('\t') || sawLength) return undefined
        sawLength = true
        continue
      case 'connection':
        for (const option of connectionOptions(value)) {
          if (!isPersistenceOption(option)) return undefined
          if (option === 'close') request.close = true
        }
        continue
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return undefined
    }
    if (!balancerWrites(name)) request.lines.push(line)
  }
  // HTTP/1.1 requires Host: Node answers its absence with a 400
  return request.host === undefined && whole ? undefined : request
}

/** How a response's body is delimited. */
export type Framing = { kind: 'none' } | { kind: 'length', length: number } | { kind: 'chunked' } | { kind: 'close' }

export interface ResponseHead {
  statusCode: number
  /** the status line and header lines to pass on, hop-by-hop ones left out (a chunked body keeps its Transfer-Encoding) */
  lines: string[]
  framing: Framing
  /** the replica will close this connection after the answer */
  close: boolean
}

/** Why a replica's answer cannot be passed on. */
export class BadResponse extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'BadResponse'
  }
}

/**
 * Reads a replica's response head to a `request` of that method (a HEAD's
 * answer has no body, whatever its headers say). Throws BadResponse.
 */
export function parseResponseHead (head: string, request: 'GET' | 'HEAD'): ResponseHead {
  const lines = head.split('\r\n')
  const status = STATUS_LINE.exec(lines[0])
  if (status === null) throw new BadResponse(`not an HTTP/1.x status line: ${JSON.stringify(lines[0].slice(0, 80))}`)
  const statusCode = Number(status[2])
  let close = status[1] === '0'
  let length: number | undefined
  let chunked = false
  /** the options of the Connection lines, once there is one */
  let listed: string[] | undefined
  const kept = [`HTTP/1.1${lines[0].slice(8)}`]
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]
    if (!HEADER_LINE.test(line)) throw new BadResponse(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`)
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toLowerCase()
    const value = trimOws(line.slice(colon + 1))
    // Node's parser takes spaces after a Content-Length's digits or `chunked`, but not a tab
    if (name === 'content-length') {
      // a second one, even equal, is refused as Node's parser refuses it
      if (!/^\d{1,15}$/.test(value) || line.endsWith('\t') || length !== undefined) throw new BadResponse(`bad Content-Length: ${value}`)
      length = Number(value)
    } else if (name === 'transfer-encoding') {
      if (value.toLowerCase() !== 'chunked' || line.endsWith('\t') || chunked) throw new BadResponse(`unsupported Transfer-Encoding: ${value}`)
      chunked = true
    } else if (name === 'connection') {
      const options = connectionOptions(value)
      if (options.includes('close')) close = true
      listed = listed === undefined ? options : listed.concat(options)
    }
    if (!HOP_BY_HOP.has(name)) kept.push(line)
  }
  if (listed !== undefined) {
    for (let i = kept.length - 1; i > 0; i--) {
      if (listed.includes(kept[i].slice(0, kept[i].indexOf(':')).toLowerCase())) kept.splice(i, 1)
    }
  }
  if (statusCode === 101) throw new BadResponse('101 Switching Protocols to a request that asked for no upgrade')
  // an HTTP/1.0 server cannot send an interim answer: Node's parser takes it as the end of the connection
  // an interim answer from an HTTP/1.0 server, or one closing the connection: Node's parser takes either as the connection's end
  if (statusCode < 200 && close) throw new BadResponse('an interim answer that closes the connection')
  // RFC 9112 §6.3: a message with both is a smuggling risk, and undici refuses it too
  if (chunked && length !== undefined) throw new BadResponse('both Content-Length and Transfer-Encoding')
  let framing: Framing
  if (request === 'HEAD' || statusCode < 200 || statusCode === 204 || statusCode === 304) framing = { kind: 'none' }
  else if (chunked) {
    framing = { kind: 'chunked' }
    kept.push('transfer-encoding: chunked')
  } else if (length !== undefined) framing = { kind: 'length', length }
  else framing = { kind: 'close' }
  return { statusCode, lines: kept, framing, close }
}

/** Trailer fields that would frame a message, refused where Node's parser reads them */
const FRAMING_TRAILERS = new Set(['content-length', 'transfer-encoding'])
/** The longest trailer section followed */
const MAX_TRAILERS = 16 * 1024

/**
 * Where ChunkedEnd is within a chunked body; a chunk extension is read as
 * Node's parser reads it: `;name`, then `=token`, `="quoted"` or `=` alone,
 * repeated, with no whitespace anywhere.
 */
const Chunk = { Size: 0, ExtName: 1, ExtNameMore: 2, ExtValue: 3, ExtToken: 4, ExtQuoted: 5, ExtEscape: 6, ExtQuotedEnd: 7, SizeEnd: 8, Data: 9, DataCr: 10, DataLf: 11, LineStart: 12, Trailer: 13, TrailerLf: 14, End: 15 } as const

/** RFC 9110 §5.6.2: a token's characters */
function isTchar (byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(byte))
}

/**
 * Follows a chunked body (RFC 9112 §7.1) as it passes through, to tell where
 * it ends, without decoding it: the bytes go on exactly as they came.
 */
export class ChunkedEnd {
  private state: number = Chunk.Size
  private size = 0
  private digits = 0
  private remaining = 0
  /** the trailer line being read, and how many trailer bytes came before it */
  private trailer = ''
  private trailerBytes = 0

  /** The index just after the body's end in `data`, or -1 if it goes on past it. Throws BadResponse. */
  scan (data: Buffer, from = 0): number {
    let i = from
    while (i < data.length) {
      if (this.state === Chunk.Data) {
        const take = Math.min(this.remaining, data.length - i)
        this.remaining -= take
        i += take
        if (this.remaining === 0) this.state = Chunk.DataCr
        continue
      }
      const byte = data[i++]
      switch (this.state) {
        case Chunk.Size: {
          const digit = hexValue(byte)
          if (digit !== -1 && this.digits < 12) {
            this.size = this.size * 16 + digit
            this.digits++
          } else if (this.digits > 0 && byte === 0x3b) {
            // no whitespace before the `;`: Node's parser refuses it, so the fast path does too
            this.state = Chunk.ExtName
          } else if (this.digits > 0 && byte === 0x0d) {
            this.state = Chunk.SizeEnd
          } else {
            throw new BadResponse('malformed chunk size')
          }
          break
        }
        case Chunk.ExtName:
          if (!isTchar(byte)) throw new BadResponse('malformed chunk extension')
          this.state = Chunk.ExtNameMore
          break
        case Chunk.ExtNameMore:
        case Chunk.ExtToken:
          if (byte === 0x0d) this.state = Chunk.SizeEnd
          else if (byte === 0x3b) this.state = Chunk.ExtName
          else if (byte === 0x3d && this.state === Chunk.ExtNameMore) this.state = Chunk.ExtValue
          else if (!isTchar(byte)) throw new BadResponse('malformed chunk extension')
          break
        case Chunk.ExtValue:
          if (byte === 0x0d) this.state = Chunk.SizeEnd
          else if (byte === 0x22) this.state = Chunk.ExtQuoted
          else if (isTchar(byte)) this.state = Chunk.ExtToken
          else throw new BadResponse('malformed chunk extension')
          break
        case Chunk.ExtQuoted:
          if (byte === 0x22) this.state = Chunk.ExtQuotedEnd
          else if (byte === 0x5c) this.state = Chunk.ExtEscape
          // qdtext and quoted-pair (RFC 9110 §5.6.4) take HTAB, SP, visible ASCII and obs-text, as Node's parser does
          else if ((byte < 0x20 && byte !== 0x09) || byte === 0x7f) throw new BadResponse('malformed chunk extension')
          break
        case Chunk.ExtEscape:
          if ((byte < 0x20 && byte !== 0x09) || byte === 0x7f) throw new BadResponse('malformed chunk extension')
          this.state = Chunk.ExtQuoted
          break
        case Chunk.ExtQuotedEnd:
          if (byte === 0x0d) this.state = Chunk.SizeEnd
          else if (byte === 0x3b) this.state = Chunk.ExtName
          else throw new BadResponse('malformed chunk extension')
          break
        case Chunk.SizeEnd:
          if (byte !== 0x0a) throw new BadResponse('malformed chunk size line')
          if (this.size === 0) {
            this.state = Chunk.LineStart
          } else {
            this.remaining = this.size
            this.state = Chunk.Data
          }
          this.size = 0
          this.digits = 0
          break
        case Chunk.DataCr:
          if (byte !== 0x0d) throw new BadResponse('chunk longer than its size')
          this.state = Chunk.DataLf
          break
        case Chunk.DataLf:
          if (byte !== 0x0a) throw new BadResponse('chunk longer than its size')
          this.state = Chunk.Size
          break
        case Chunk.LineStart:
          // a bare LF here would end the body for a lenient client and start a trailer for a strict one
          if (byte === 0x0a) throw new BadResponse('bare LF after the last chunk')
          if (byte === 0x0d) {
            this.state = Chunk.End
          } else {
            this.trailer = String.fromCharCode(byte)
            this.state = Chunk.Trailer
          }
          break
        case Chunk.Trailer:
          if (byte === 0x0d) this.state = Chunk.TrailerLf
          else if (byte === 0x0a) throw new BadResponse('bare LF in a trailer')
          else if (this.trailerBytes + this.trailer.length >= MAX_TRAILERS) throw new BadResponse('trailers too large')
          else this.trailer += String.fromCharCode(byte)
          break
        case Chunk.TrailerLf: {
          if (byte !== 0x0a) throw new BadResponse('bare CR in a trailer')
          const line = this.trailer
          if (!HEADER_LINE.test(line) || FRAMING_TRAILERS.has(line.slice(0, line.indexOf(':')).toLowerCase())) throw new BadResponse(`malformed trailer: ${JSON.stringify(line.slice(0, 80))}`)
          this.trailerBytes += line.length + 2
          this.state = Chunk.LineStart
          break
        }
        case Chunk.End:
          if (byte !== 0x0a) throw new BadResponse('malformed end of chunked body')
          return i
      }
    }
    return -1
  }
}

function hexValue (byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  const lower = byte | 0x20
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10
  return -1
}
