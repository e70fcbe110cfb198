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
} else {
  throw new Error(`PROXY_LIB must be reply-from or http-proxy, got ${lib}`)
}
process.once('disconnect', () => { void app.close().then(() => process.exit(0)) })
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
if (process.send !== undefined && address !== null && typeof address === 'object') process.send({ port: address.port })
