import t from 'tap'
import * as ws from 'ws'
import { CLOSE_SERVICE_RESTART, FrameBoundaries, closeFrame } from '../../lib/proxy/websocket-frames.js'

// ws's own frame writer and reader, which its typings leave out
interface WsInternals {
  Sender: new (socket: unknown) => { send: (data: Buffer | string, options: object) => void }
  Receiver: new (options: { isServer: boolean }) => NodeJS.WritableStream & { once: (event: 'conclude', listener: (code: number, reason: Buffer) => void) => void }
}
const { Sender, Receiver } = ws as unknown as WsInternals

/** Frames as ws writes them: `masked` as a client does. */
function frames (messages: Array<Buffer | string>, masked: boolean): Buffer[] {
  const out: Buffer[] = []
  const socket = { write: (chunk: Buffer | Buffer[]) => { out.push(...[chunk].flat().map(c => Buffer.from(c))); return true }, cork: () => {}, uncork: () => {} }
  const sender = new Sender(socket)
  for (const message of messages) sender.send(message, { binary: typeof message !== 'string', fin: true, mask: masked, compress: false })
  return out
}

t.test('frame ends are found in frames of every length form, masked or not, cut at any byte', async t => {
  for (const masked of [false, true]) {
    const messages = ['', 'hi', Buffer.alloc(125, 1), Buffer.alloc(126, 2), Buffer.alloc(70_000, 3)]
    const stream = Buffer.concat(frames(messages, masked))
    const headers = masked ? [6, 6, 6, 8, 14] : [2, 2, 2, 4, 10]
    const ends: number[] = []
    let at = 0
    for (let i = 0; i < messages.length; i++) {
      at += headers[i] + Buffer.byteLength(messages[i])
      ends.push(at)
    }
    t.equal(stream.length, ends.at(-1), `masked=${masked}: the expected wire size`)
    // fed one byte at a time, the tracker is at a boundary exactly at the frame ends
    const boundaries = new FrameBoundaries()
    const seen: number[] = []
    for (let i = 0; i < stream.length; i++) {
      boundaries.advance(stream.subarray(i, i + 1))
      if (boundaries.atBoundary) seen.push(i + 1)
    }
    t.same(seen, ends, `masked=${masked}: byte by byte`)
    // in one chunk, stopping at each boundary in turn
    const stops = new FrameBoundaries()
    const stopped: number[] = []
    let offset = 0
    while (offset < stream.length) {
      // one byte into the next frame, then on to where it ends
      offset = stops.advance(stream.subarray(0, offset + 1), offset)
      offset = stops.advance(stream, offset, true)
      stopped.push(offset)
    }
    t.same(stopped, ends, `masked=${masked}: stopping at each boundary`)
  }
})

t.test('mid-frame, advance with stopAtBoundary stops where the frame ends and not before', async t => {
  const stream = Buffer.concat(frames([Buffer.alloc(300, 7), 'next'], false))
  const boundaries = new FrameBoundaries()
  boundaries.advance(stream.subarray(0, 100))
  t.equal(boundaries.atBoundary, false)
  const end = boundaries.advance(stream, 100, true)
  t.equal(end, 4 + 300, 'the first frame is 4 header bytes and 300 payload bytes')
  t.equal(boundaries.atBoundary, true)
  t.equal(boundaries.advance(stream, end, true), end, 'at a boundary it moves no further')
})

t.test('close frames are read by ws as the code and reason sent, masked to a server and bare to a client', async t => {
  for (const [masked, isServer] of [[false, false], [true, true]] as const) {
    const receiver = new Receiver({ isServer })
    const got = new Promise<[number, string]>(resolve => receiver.once('conclude', (code: number, reason: Buffer) => { resolve([code, reason.toString()]) }))
    receiver.write(closeFrame(CLOSE_SERVICE_RESTART, 'key moved to server-3', masked))
    t.same(await got, [1012, 'key moved to server-3'], isServer ? 'to the replica' : 'to the client')
  }
  t.ok(closeFrame(1001, 'x'.repeat(500), false).length <= 2 + 125, 'a long reason is cut to fit a control frame')
})
