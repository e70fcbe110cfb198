import t, { type Test } from 'tap'
import { type Target, ringlbTarget } from '../scripts/conformance/targets.js'
import { type Outcome, exchange } from '../scripts/conformance/wire.js'

/*
 * The faults of issue 15, each tried on both proxy paths over real sockets,
 * against a replica that records the bytes it receives and answers with
 * scripted raw bytes (scripts/conformance/upstream.ts): every one of them
 * smuggled, desynced, hung or forwarded what nginx and HAProxy refuse.
 */

const NEXT = 'GET /next?id=1 HTTP/1.1\r\nHost: h.test\r\n\r\n'
const INJECTED = 'HTTP/1.1 200 OK\r\nx-injected: 1\r\ncontent-length: 8\r\n\r\nINJECTED'

async function send (target: Target, bytes: string, method = 'GET'): Promise<Outcome> {
  return await exchange(target.port, [bytes], [method, 'GET'], 2, 5000)
}

/** Refused in the contract's error shape with `status`, and the connection closed after it. */
function refused (t: Test, outcome: Outcome, status: number): void {
  t.equal(outcome.answers[0]?.status, status, `answered ${status}`)
  t.match(outcome.answers[0]?.body, /^\{"message":"<Error> .+","status":"failure"\}$/, 'in the error shape')
  t.equal(outcome.answers.length, 1, 'and nothing after it')
  t.ok(outcome.closed, 'the connection closed')
}

for (const fast of [true, false]) {
  t.test(`on the ${fast ? 'fast' : 'undici'} path`, async t => {
    const target = await ringlbTarget(fast)
    t.teardown(target.close)
    const { upstream } = target
    const reached = (marker: string): boolean => upstream.arrivals.some(a => a.head.includes(marker))

    t.test('a head whose lines end in bare LF, an invalid method or a TLS ClientHello is answered 400 at once, and closed', async t => {
      for (const bytes of ['GET /a?id=1 HTTP/1.1\nHost: h.test\n\n', 'G@T /a HTTP/1.1\r\nHost: h.test\r\n\r\n', 'FOO', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03']) {
        const started = Date.now()
        // waits for a second answer that never comes: the exchange ends when the balancer closes
        const outcome = await exchange(target.port, [bytes], ['GET'], 2, 5000)
        refused(t, outcome, 400)
        t.ok(Date.now() - started < 4000, `not after a timeout: ${JSON.stringify(bytes)}`)
      }
    })

    t.test('Content-Length: 0 then NBSP is refused with 400, and the request behind it never reaches the replica', async t => {
      refused(t, await send(target, `GET /a?id=1 HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\xa0\r\n\r\nGET /nbsp-hidden HTTP/1.1\r\nHost: h.test\r\n\r\n`), 400)
      t.notOk(reached('/nbsp-hidden'))
    })

    t.test('a repeated Host, a version-less request line, HTTP/2.0 and an asterisk target are refused with 400', async t => {
      for (const bytes of [
        'GET /two-hosts HTTP/1.1\r\nHost: h.test\r\nHost: other.test\r\n\r\n',
        'GET /no-version?id=1\r\nHost: h.test\r\n\r\n',
        'GET /two?id=1 HTTP/2.0\r\nHost: h.test\r\n\r\n',
        'GET * HTTP/1.1\r\nHost: h.test\r\n\r\n',
        'GET /host-space HTTP/1.1\r\nHost: h .test\r\n\r\n',
        'CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n'
      ]) refused(t, await send(target, bytes + NEXT), 400)
      t.notOk(reached('/two-hosts') || reached('/no-version') || reached('/two?') || reached('/host-space'), 'none reached the replica')
    })

    t.test('an absolute-form target reaches the replica in origin-form; one with a foreign authority is refused', async t => {
      const outcome = await send(target, `GET http://h.test/absolute?id=1 HTTP/1.1\r\nHost: h.test\r\n\r\n${NEXT}`)
      t.same(outcome.answers.map(a => a.status), [200, 200])
      t.ok(upstream.arrivals.some(a => a.head.startsWith('GET /absolute?id=1 HTTP/1.1\r\n')), 'rewritten to origin-form')
      refused(t, await send(target, `GET http://other.example/foreign?id=1 HTTP/1.1\r\nHost: h.test\r\n\r\n${NEXT}`), 400)
      t.notOk(reached('foreign'))
    })

    t.test('an HTTP/1.0 request followed by more bytes is answered, then the connection closed', async t => {
      const outcome = await send(target, `GET /ten?id=1 HTTP/1.0\r\n\r\n${NEXT}`)
      t.equal(outcome.answers[0]?.status, 200)
      t.equal(outcome.answers[0]?.body, '/ten?id=1')
      t.ok(outcome.closed)
    })

    const answers: Array<[string, string, string, (t: Test, outcome: Outcome) => void]> = [
      ['a chunked answer whose last chunk is followed by a bare LF never lets the bytes after it through', '/bare-lf', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n${INJECTED}`, (t, outcome) => {
        t.notOk(outcome.raw.includes('x-injected'), 'nothing after the bare LF reached the client')
        t.ok(outcome.closed, 'the client\'s connection closed')
      }],
      ['an answer with Content-Length 2 then NBSP is refused with 502', '/cl-nbsp', `HTTP/1.1 200 OK\r\nContent-Length: 2\xa0\r\n\r\nok${INJECTED}`, (t, outcome) => { refused(t, outcome, 502) }],
      ['an answer head whose lines end in bare LF is refused with 502 at once', '/lf-head', `HTTP/1.1 200 OK\nContent-Length: 2\n\nok${INJECTED}`, (t, outcome) => { refused(t, outcome, 502) }],
      ['an answer head over 16 KiB is refused with 502', '/big-head', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\nContent-Length: 2\r\n\r\nok`, (t, outcome) => { refused(t, outcome, 502) }],
      ['a trailer with a space before its colon closes both connections', '/bad-trailer', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T : 1\r\n\r\n${INJECTED}`, (t, outcome) => {
        t.notOk(outcome.raw.includes('x-injected'))
        t.ok(outcome.closed)
      }],
      ['a 103 Early Hints before the answer: the client gets the final answer, then the next', '/hints', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', (t, outcome) => {
        t.same(outcome.answers.map(a => a.status), [200, 200])
        t.equal(outcome.answers[0].body, 'ok')
      }],
      ['a 204 carrying body bytes: the client gets the 204, and the next answer is the replica\'s answer to the next request', '/no-content', `HTTP/1.1 204 No Content\r\nContent-Length: ${INJECTED.length}\r\n\r\n${INJECTED}`, (t, outcome) => {
        t.same(outcome.answers.map(a => a.status), [204, 200])
        t.equal(outcome.answers[1].body, '/next?id=1')
        t.notOk(outcome.raw.includes('x-injected'))
      }],
      ['a 304 carrying body bytes: the same', '/not-modified', `HTTP/1.1 304 Not Modified\r\n\r\n${INJECTED}`, (t, outcome) => {
        t.same(outcome.answers.map(a => a.status), [304, 200])
        t.notOk(outcome.raw.includes('x-injected'))
      }],
      ['a Transfer-Encoding other than chunked in an answer is refused with 502', '/xchunked', `HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${INJECTED}`, (t, outcome) => { refused(t, outcome, 502) }]
    ]
    for (const [name, path, bytes, check] of answers) {
      t.test(name, async t => {
        upstream.scripts.set(path, { bytes })
        check(t, await send(target, `GET ${path}?id=1 HTTP/1.1\r\nHost: h.test\r\n\r\n${NEXT}`))
      })
    }
  })
}
