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

const shutdown = (): void => {
  app.close().then(() => process.exit(0), () => process.exit(1))
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
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}

await app.listen({ port, host })
const address = app.server.address()
if (process.send !== undefined && address !== null && typeof address === 'object') {
  process.send({ port: address.port })
}
