import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'

export interface ReplicaOptions extends FastifyServerOptions {
  /** the replica's numeric server id, shown in the /home greeting */
  serverId: string
}

/** The replica server: /home greets with its server id, /heartbeat answers Hello, anything else is a 404 in the contract's shape. */
export function buildReplica ({ serverId, ...options }: ReplicaOptions): FastifyInstance {
  const app = Fastify(options)
  app.get('/home', async () => ({ message: `Hello from Server: ${serverId}`, status: 'successful' }))
  app.get('/heartbeat', async (_request, reply) => reply.type('text/plain').send('Hello'))
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?', 1)[0]
    return await reply.code(404).send({ message: `<Error> '${path}' endpoint does not exist in server replicas`, status: 'failure' })
  })
  return app
}
