import cluster from 'node:cluster'
import httpProxy from '@fastify/http-proxy'
import replyFrom from '@fastify/reply-from'
import Fastify from 'fastify'
import { type AddressInfo, createServer } from 'node:net'
import { BalancerMetrics } from '../../lib/metrics/metrics.js'
import { FastPath } from '../../lib/proxy/fast-path/fast-path.js'
import { forward } from '../../lib/proxy/forwarder.js'
import { downstreamHeaders, upstreamHeaders } from '../../lib/proxy/headers.js'
import { InFlight } from '../../lib/proxy/in-flight.js'
import { Lifecycle } from '../../lib/proxy/lifecycle.js'
import { ReplicaPools } from '../../lib/proxy/replica-pools.js'
import { type KeyInputs, requestKey } from '../../lib/proxy/request-key.js'
import { MaglevRing } from '../../lib/rings/maglev.js'

/*
 * A bare proxy for `npm run bench:proxy`: Fastify (no logger) forwarding with
 * @fastify/reply-from, @fastify/http-proxy or ringlb's own forwarder
 * (lib/proxy/forwarder.ts), choosing the upstream per request on a maglev ring over
 * UPSTREAMS, through ringlb's per-replica undici pools, or ringlb's fast path
 * (lib/proxy/fast-path/) on a net.Server over the same ring. With WORKERS > 1 it is
 * a node:cluster of that many workers sharing PORT, each building the same
 * ring from the same list (Maglev is deterministic, so the rings are identical).
 * It reports its port over IPC once every worker listens, like a replica.
 */
const lib = process.env.PROXY_LIB
const workers = Number(process.env.WORKERS ?? '1')
const port = Number(process.env.PORT ?? '0')

async function serve (): Promise<number> {
  const ring = new MaglevRing<{ id: number, hostname: string, url: string }>({ tableSize: 65537 })
  ;(process.env.UPSTREAMS ?? '').split(',').forEach((url, id) => { ring.add({ id, hostname: `server-${id}`, url }) })
  const getUpstream = (request: KeyInputs): string => ring.lookup(requestKey(request))?.url ?? ''
  const pools = new ReplicaPools({ connections: 128, pipelining: 1 })

  if (lib === 'fast-path') {
    const lifecycle = new Lifecycle({ ring, load: new InFlight(), balanceFactor: 0, reportFailure: () => {}, counts: new BalancerMetrics() })
    const fast = new FastPath({
      lifecycle,
      isOwn: () => false,
      timeoutMs: 30_000,
      keepAliveTimeoutMs: 72_000,
      headersTimeoutMs: 60_000,
      closing: () => false,
      handOff: (socket) => { socket.destroy() }
    })
    const server = createServer(socket => { fast.accept(socket) })
    await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
    return (server.address() as AddressInfo).port
  }
  const app = Fastify()
  if (lib === 'http-proxy') {
    await app.register(httpProxy, { upstream: '', undici: pools, replyOptions: { getUpstream } })
  } else if (lib === 'reply-from') {
    await app.register(replyFrom, { undici: pools })
    app.all('/*', (request, reply) => reply.from(request.url, { getUpstream: () => getUpstream(request) }))
  } else if (lib === 'forward') {
    app.all('/*', (request, reply) => {
      forward(pools, { origin: getUpstream(request), method: request.method, path: request.url, headers: upstreamHeaders(request.raw), timeoutMs: 30_000 }, reply.raw, {
        onResponse: (statusCode, headers) => {
          reply.raw.writeHead(statusCode, downstreamHeaders(headers))
          reply.hijack()
        },
        onError: (error) => { void reply.code(502).send(error.message) }
      })
      return reply
    })
  } else {
    throw new Error(`PROXY_LIB must be reply-from, http-proxy, forward or fast-path, got ${lib}`)
  }
  await app.listen({ port, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address !== 'object') throw new Error('no address')
  return address.port
}

if (workers > 1 && cluster.isPrimary) {
  if (port === 0) throw new Error('a cluster needs PORT: its workers must share one')
  const forked = Array.from({ length: workers }, () => cluster.fork())
  await Promise.all(forked.map(async worker => { await new Promise(resolve => worker.once('listening', resolve)) }))
  process.send?.({ port })
  process.once('disconnect', () => { for (const worker of forked) worker.kill(); process.exit(0) })
} else {
  const listening = await serve()
  if (workers === 1) {
    process.once('disconnect', () => { process.exit(0) })
    process.send?.({ port: listening })
  }
}
