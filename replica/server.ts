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
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
process.once('disconnect', shutdown)

await app.listen({ port, host })
const address = app.server.address()
if (process.send !== undefined && address !== null && typeof address === 'object') {
  process.send({ port: address.port })
}
