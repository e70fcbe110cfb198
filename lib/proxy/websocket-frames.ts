import { randomBytes } from 'node:crypto'

/**
 * Where WebSocket frames (RFC 6455 §5.2) begin and end in one direction of a
 * tunnel, read from their headers alone: payloads are skipped, never copied
 * or unmasked. The balancer closes a tunnel by putting a close frame into the
 * byte stream, and may do so only between two frames; a control frame may
 * come between the fragments of a message (§5.4), so a frame boundary is
 * enough, whatever extensions (permessage-deflate) do to payloads.
 */
export class FrameBoundaries {
  /** the header of the frame being read, up to 14 bytes */
  private readonly header = Buffer.alloc(14)
  private headerLength = 0
  /** payload bytes of the current frame still to come */
  private remaining = 0

  /** Whether the bytes so far end exactly where a frame does. */
  get atBoundary (): boolean {
    return this.headerLength === 0 && this.remaining === 0
  }

  /**
   * Reads `chunk` from `start`; with `stopAtBoundary`, stops where the first
   * frame ends (at once if at a boundary already). Returns the offset reached.
   */
  advance (chunk: Buffer, start = 0, stopAtBoundary = false): number {
    let at = start
    while (at < chunk.length) {
      if (stopAtBoundary && this.atBoundary) return at
      if (this.remaining > 0) {
        const skipped = Math.min(this.remaining, chunk.length - at)
        this.remaining -= skipped
        at += skipped
        continue
      }
      this.header[this.headerLength++] = chunk[at++]
      const needed = this.headerSize()
      if (needed !== undefined && this.headerLength === needed) {
        this.remaining = this.payloadLength()
        this.headerLength = 0
      }
    }
    return at
  }

  /** The whole header's size, once its first two bytes are in. */
  private headerSize (): number | undefined {
    if (this.headerLength < 2) return undefined
    const length7 = this.header[1] & 0x7f
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0
    const mask = (this.header[1] & 0x80) !== 0 ? 4 : 0
    return 2 + extended + mask
  }

  private payloadLength (): number {
    const length7 = this.header[1] & 0x7f
    if (length7 === 126) return this.header.readUInt16BE(2)
    // 2^53 bytes is more than any stream will carry
    if (length7 === 127) return Number(this.header.readBigUInt64BE(2))
    return length7
  }
}

/** Close codes the balancer sends (RFC 6455 §7.4.1 and IANA's registry). */
export const CLOSE_GOING_AWAY = 1001
export const CLOSE_SERVICE_RESTART = 1012

/**
 * A close frame with `code` and a short reason: masked when it goes to the
 * replica (the balancer speaks as the client there, §5.3), unmasked to the client.
 */
export function closeFrame (code: number, reason: string, masked: boolean): Buffer {
  // a control frame's payload is at most 125 bytes: 2 for the code, the rest for the reason
  const text = Buffer.from(reason).subarray(0, 123)
  const payload = Buffer.alloc(2 + text.length)
  payload.writeUInt16BE(code, 0)
  text.copy(payload, 2)
  const head = Buffer.from([0x88, (masked ? 0x80 : 0) | payload.length])
  if (!masked) return Buffer.concat([head, payload])
  const key = randomBytes(4)
  for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3]
  return Buffer.concat([head, key, payload])
}
