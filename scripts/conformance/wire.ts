import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/*
 * The client side of a case: raw bytes written on one connection, and the
 * answers read back as a lenient client reads them (a bare LF ends a line,
 * as browsers and many HTTP libraries accept), since a desync is exactly an
 * answer such a client takes for the answer to its next request.
 */

export interface Answer {
  status: number
  headers: Map<string, string>
  body: string
  /** the answer ended where its framing says (false: cut off by the connection's end) */
  complete: boolean
}

export interface Outcome {
  /** every byte the proxy sent back */
  raw: string
  answers: Answer[]
  /** the proxy closed the connection */
  closed: boolean
}

/**
 * Writes `pieces` (one write each, `gapMs` apart) and reads until `expected`
 * final answers have come and `quietMs` more passed, the connection closed,
 * or `waitMs` passed. `methods` are the requests' methods in order (a HEAD's
 * answer has no body).
 */
export async function exchange (port: number, pieces: string[], methods: string[], expected: number, waitMs: number, gapMs = 0): Promise<Outcome> {
  const socket = connect(port, '127.0.0.1')
  socket.setEncoding('latin1')
  let raw = ''
  let closed = false
  let settled = (): void => {}
  const done = new Promise<void>(resolve => { settled = resolve })
  let quiet: NodeJS.Timeout | undefined
  socket.on('data', (chunk: string) => {
    raw += chunk
    if (readAnswers(raw, methods).filter(a => a.complete).length >= expected) {
      clearTimeout(quiet)
      quiet = setTimeout(settled, 150)
    }
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    closed = true
    settled()
  })
  const timer = setTimeout(settled, waitMs)
  try {
    for (const [i, piece] of pieces.entries()) {
      if (i > 0 && gapMs > 0) await sleep(gapMs)
      if (!socket.destroyed) socket.write(piece, 'latin1')
    }
    await done
  } finally {
    clearTimeout(timer)
    clearTimeout(quiet)
    socket.destroy()
  }
  return { raw, answers: readAnswers(raw, methods, closed), closed }
}

/** The final answers in `raw` (1xx ones skipped); the last may be incomplete. */
export function readAnswers (raw: string, methods: string[], closed = false): Answer[] {
  const answers: Answer[] = []
  let at = 0
  while (at < raw.length) {
    const head = lineBlock(raw, at)
    if (head === undefined) {
      answers.push({ status: statusOf(raw.slice(at)), headers: new Map(), body: '', complete: false })
      break
    }
    const [statusLine, ...lines] = head.lines
    const status = statusOf(statusLine)
    const headers = new Map<string, string>()
    for (const line of lines) {
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).trim().toLowerCase()
      headers.set(name, headers.has(name) ? `${headers.get(name) as string}, ${line.slice(colon + 1).trim()}` : line.slice(colon + 1).trim())
    }
    at = head.end
    if (status >= 100 && status < 200) continue
    const method = methods[answers.length] ?? 'GET'
    const body = readBody(raw, at, method === 'HEAD' || status === 204 || status === 304 ? 'none' : headers, closed)
    answers.push({ status, headers, body: body.text, complete: body.complete })
    if (!body.complete) break
    at = body.end
  }
  return answers
}

function statusOf (line: string): number {
  const match = /^HTTP\/\d\.\d (\d{3})/.exec(line)
  return match === null ? 0 : Number(match[1])
}

/** Lines up to an empty one, each ended by LF with or without CR before it. */
function lineBlock (raw: string, from: number): { lines: string[], end: number } | undefined {
  const lines: string[] = []
  let at = from
  for (;;) {
    const lf = raw.indexOf('\n', at)
    if (lf === -1) return undefined
    const line = raw.slice(at, raw[lf - 1] === '\r' && lf > at ? lf - 1 : lf)
    at = lf + 1
    if (line === '') return { lines, end: at }
    lines.push(line)
  }
}

function readBody (raw: string, from: number, headers: Map<string, string> | 'none', closed: boolean): { text: string, complete: boolean, end: number } {
  if (headers === 'none') return { text: '', complete: true, end: from }
  if (headers.get('transfer-encoding')?.toLowerCase().includes('chunked') === true) {
    let at = from
    let text = ''
    for (;;) {
      const lf = raw.indexOf('\n', at)
      if (lf === -1) return { text, complete: false, end: raw.length }
      const size = Number.parseInt(raw.slice(at, lf), 16)
      if (!Number.isFinite(size)) return { text, complete: false, end: raw.length }
      at = lf + 1
      if (size === 0) {
        const trailers = lineBlock(raw, at)
        return trailers === undefined ? { text, complete: false, end: raw.length } : { text, complete: true, end: trailers.end }
      }
      if (raw.length < at + size) return { text: text + raw.slice(at), complete: false, end: raw.length }
      text += raw.slice(at, at + size)
      at += size
      if (raw[at] === '\r') at++
      if (raw[at] === '\n') at++
    }
  }
  const length = headers.get('content-length')
  if (length === undefined) return { text: raw.slice(from), complete: closed, end: raw.length }
  const n = Number.parseInt(length, 10)
  if (raw.length < from + n) return { text: raw.slice(from), complete: false, end: raw.length }
  return { text: raw.slice(from, from + n), complete: true, end: from + n }
}
