import { execFile } from 'node:child_process'
import { connect as http2Connect } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { makeCertificate } from '../../scripts/lib/certificate.js'
import { build } from '../helper.js'
import { InProcessDriver } from '../support/in-process-driver.js'
import { openEcho } from '../support/websocket-client.js'

const certificate = makeCertificate()
t.teardown(certificate.remove)

/** The balancer serving TLS with the test's certificate on a loopback port. */
async function tlsBalancer (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, base: string }> {
  const app = await build(t, { LB_TLS_CERT: certificate.cert, LB_TLS_KEY: certificate.key, ...env }, { driver: new InProcessDriver() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, base: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

/** Debian's curl: the body, the HTTP version and status it reports, and the replica header. */
async function curl (args: string[]): Promise<{ body: string, version: string, status: number, replica: string | undefined }> {
  // -D - : the answer's head on stdout before its body (curl 7.88 crashes writing it to a piped /dev/stderr)
  const { stdout } = await promisify(execFile)('curl', ['-sS', '--cacert', certificate.cert, '-D', '-', '-w', '\n%{http_version} %{http_code}', ...args], { timeout: 20_000 })
  const split = stdout.indexOf('\r\n\r\n')
  const head = stdout.slice(0, split)
  const lines = stdout.slice(split + 4).split('\n')
  const [version, status] = (lines.pop() as string).split(' ')
  const replica = /^x-ringlb-replica: (.+?)\r?$/mi.exec(head)?.[1]
  return { body: lines.join('\n'), version, status: Number(status), replica }
}

t.test('TLS offers h2 and http/1.1 by ALPN, with the certificate given', async t => {
  const { base } = await tlsBalancer(t)
  const { port } = new URL(base)
  for (const [offered, chosen] of [[['h2', 'http/1.1'], 'h2'], [['http/1.1'], 'http/1.1']] as const) {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ALPNProtocols: [...offered], ca: [certificate.certPem()], servername: 'localhost' })
    await new Promise((resolve, reject) => { socket.once('secureConnect', resolve).once('error', reject) })
    t.equal(socket.alpnProtocol, chosen, `offered ${offered.join(', ')}`)
    t.ok(socket.authorized, 'the certificate verifies against the test\'s own')
    socket.destroy()
  }
})

t.test('Debian\'s curl --http2 gets the admin routes and a proxied path over TLS, as HTTP/2', async t => {
  const { app, base } = await tlsBalancer(t)
  const heartbeat = await curl(['--http2', `${base}/heartbeat`])
  t.same([heartbeat.version, heartbeat.status, heartbeat.body], ['2', 200, 'Hello'])
  const rep = await curl(['--http2', `${base}/rep`])
  t.same([rep.version, rep.status, JSON.parse(rep.body)], ['2', 200, { N: 3, replicas: ['server-0', 'server-1', 'server-2'] }])
  const map = await curl(['--http2', `${base}/map_request?id=123456`])
  t.equal(map.version, '2')
  const owner = JSON.parse(map.body) as { mapped_server: number, hostname: string }
  const home = await curl(['--http2', `${base}/home?id=123456`])
  t.same([home.version, home.status], ['2', 200])
  t.same(JSON.parse(home.body), { message: `Hello from Server: ${owner.mapped_server}`, status: 'successful' }, 'the key\'s owner answered')
  t.equal(home.replica, owner.hostname)
  const added = await curl(['--http2', '-X', 'POST', '-H', 'content-type: application/json', '--data', '{"n":1}', `${base}/add`])
  t.same([added.version, added.status], ['2', 200])
  t.equal(JSON.parse(added.body).message.N, 4)
  const bad = await curl(['--http2', '-X', 'POST', '-H', 'content-type: application/json', '--data', '{"n":"x"}', `${base}/add`])
  t.same([bad.version, bad.status], ['2', 400])
  t.equal(JSON.parse(bad.body).status, 'failure', 'an error in the contract\'s shape over HTTP/2 too')
  const missing = await curl(['--http2', `${base}/nowhere?id=1`])
  t.same([missing.version, missing.status], ['2', 404], 'the replica\'s own 404, proxied')
  const dashboard = await curl(['--http2', `${base}/dashboard`])
  t.same([dashboard.version, dashboard.status], ['2', 200])
  t.equal(app.metrics.of(owner.hostname).requests >= 1, true, 'proxied HTTP/2 requests are counted')
})

for (const fastPath of ['true', 'false']) {
  t.test(`HTTP/1.1 over TLS is proxied by key (LB_FAST_PATH=${fastPath}), and a WebSocket tunnel works over TLS`, async t => {
    const { base } = await tlsBalancer(t, { LB_FAST_PATH: fastPath })
    for (const id of [11, 222222, 987654]) {
      const map = JSON.parse((await curl(['--http1.1', `${base}/map_request?id=${id}`])).body) as { hostname: string }
      const home = await curl(['--http1.1', `${base}/home?id=${id}`])
      t.same([home.version, home.status, home.replica], ['1.1', 200, map.hostname], `id ${id}`)
    }
    const client = await openEcho(base, 4242)
    t.teardown(() => { client.socket.terminate() })
    t.equal(await client.echo('over tls'), 'over tls')
  })
}

t.test('an HTTP/2 request in flight when the balancer closes gets its answer', async t => {
  const { app, base } = await tlsBalancer(t)
  const session = http2Connect(base, { ca: certificate.certPem() })
  t.teardown(() => { session.destroy() })
  const stream = session.request({ ':path': '/slow?ms=800&id=5' })
  const answer = new Promise<{ status: number, body: string }>((resolve, reject) => {
    let status = 0
    let body = ''
    stream.on('response', headers => { status = Number(headers[':status']) })
    stream.on('data', (chunk: Buffer) => { body += chunk.toString() })
    stream.on('end', () => { resolve({ status, body }) })
    stream.on('error', reject)
  })
  await new Promise(resolve => setTimeout(resolve, 200))
  const closing = app.close()
  const { status } = await answer
  t.equal(status, 200, 'answered, with no Connection header to break HTTP/2')
  await closing
})
