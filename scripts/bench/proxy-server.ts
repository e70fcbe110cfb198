import httpProxy from '@fastify/http-proxy'
import replyFrom from '@fastify/reply-from'
import Fastify from 'fastify'
import { ReplicaPools } from '../../lib/replica-pools.js'
import { requestKey } from '../../lib/request-key.js'
import { MaglevRing } from '../../lib/rings/maglev.js'

/*
 * A bare proxy for `npm run bench:proxy`: Fastify (no logger) with either
 * @fastify/reply-from or @fastify/http-proxy, choosing the upstream per request
 * on a maglev ring over UPSTREAMS, through ringlb's per-replica undici pools.
 * It reports its kernel-chosen port over IPC, like a replica.
 */
const lib = process.env.PROXY_LIB
const upstreams = (process.env.UPSTREAMS ?? '').split(',')
const ring = new MaglevRing<{ id: number, hostname: string, url: string }>({ tableSize: 65537 })
upstreams.forEach((url, id) => { ring.add({ id, hostname: `server-${id}`, url }) })
const getUpstream = (request: { query: unknown, headers: Record<string, string | string[] | undefined> }): string => ring.lookup(requestKey(request))?.url ?? ''
const pools = new ReplicaPools({ connections: 128, pipelining: 1 })

const app = Fastify()
if (lib === 'http-proxy') {
  await app.register(httpProxy, { upstream: '', undici: pools, replyOptions: { getUpstream } })
} else if (lib === 'reply-from') {
  await app.register(replyFrom, { undici: pools })
  app.all('/*', (request, reply) => reply.from(request.url, { getUpstream: () => getUpstream(request) }))
} else if (lib === 'lean-request') {
  const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host'])
  const strip = (headers: Record<string, unknown>): Record<string, any> => {
    const out: Record<string, any> = {}
    for (const k in headers) if (!HOP.has(k)) out[k] = headers[k]
    return out
  }
  app.all('/*', (request, reply) => {
    pools.request({ origin: getUpstream(request), path: request.url, method: request.method as 'GET', headers: strip(request.headers) }).then(
      res => reply.code(res.statusCode).headers(strip(res.headers)).send(res.body),
      err => reply.code(502).send({ message: String(err) }))
    return reply
  })
} else if (lib === 'undici-stream') {
  const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host'])
  const strip = (headers: Record<string, unknown>): Record<string, any> => {
    const out: Record<string, any> = {}
    for (const k in headers) if (!HOP.has(k)) out[k] = headers[k]
    return out
  }
  app.all('/*', (request, reply) => {
    reply.hijack()
    const res = reply.raw
    pools.stream({ origin: getUpstream(request), path: request.url, method: request.method as 'GET', headers: strip(request.headers), opaque: res },
      ({ statusCode, headers, opaque }) => { opaque.writeHead(statusCode, strip(headers)); return opaque },
      (err) => { if (err !== null && !res.headersSent) { res.statusCode = 502; res.end() } })
  })
} else {
  throw new Error(`PROXY_LIB must be reply-from or http-proxy, got ${lib}`)
}
process.once('disconnect', () => { void app.close().then(() => process.exit(0)) })
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
if (process.send !== undefined && address !== null && typeof address === 'object') process.send({ port: address.port })
