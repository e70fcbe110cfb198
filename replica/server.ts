import { buildReplica } from './app.js'

/*
 * Entry of a replica, for the process driver (a child process that reports its
 * port over IPC and exits when the balancer goes away) and for containers
 * (PORT defaults to 5000 as in the original project).
 */
const serverId = process.env.SERVER_ID ?? '0'
const port = Number(process.env.PORT ?? 5000)
const host = process.env.HOST ?? '0.0.0.0'

const app = buildReplica({
  serverId,
  logger: { level: process.env.LOG_LEVEL ?? 'warn', base: { replica: process.env.REPLICA_NAME ?? `server-${serverId}` } }
})

/*
 * A container replica told to stop (SIGTERM: a Swarm task rescheduled, a node
 * drained or shutting down) first fails its heartbeat for REPLICA_LAME_DUCK_MS
 * while still serving, so balancers take it out of their rings before it stops
 * accepting: requests on their way to it are not cut (Envoy's drain, a
 * Kubernetes preStop sleep).
 */
const lameDuckMs = Number(process.env.REPLICA_LAME_DUCK_MS ?? 0)
let leaving = false
app.addHook('onRequest', async (request, reply) => {
  if (leaving && request.url.split('?', 1)[0] === '/heartbeat') await reply.code(503).type('text/plain').send('leaving')
})

const shutdown = (): void => {
  app.close().then(() => process.exit(0), () => process.exit(1))
}
const leave = (): void => {
  leaving = true
  setTimeout(shutdown, lameDuckMs).unref()
}
if (process.connected) {
  // a process replica: the balancer stops it by closing the IPC channel, and the channel closes too
  // when the balancer dies. A terminal's Ctrl-C or a service manager's SIGTERM reaches the balancer's
  // whole process group; the replica leaves it to the balancer, which would otherwise count it failed
  // and replace it while closing. (A session of its own would do it too, but under Linux's autogroup
  // scheduling a session per replica cost the balancer about 15% of its req/s: npm run bench:proxy.)
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => {})
  process.once('disconnect', shutdown)
} else {
  process.once('SIGTERM', lameDuckMs > 0 ? leave : shutdown)
  process.once('SIGINT', shutdown)
}

await app.listen({ port, host })
const address = app.server.address()
if (process.send !== undefined && address !== null && typeof address === 'object') {
  process.send({ port: address.port })
}
