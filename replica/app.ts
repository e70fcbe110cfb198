import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'

export interface ReplicaOptions extends FastifyServerOptions {
  /** the replica's numeric server id, shown in the /home greeting */
  serverId: string
}

/**
 * The replica server: /home greets with its server id, /heartbeat answers
 * Hello, /echo is a WebSocket that sends every message back as it came (its
 * 101 names the replica in `x-server-id`), anything else is a 404 in the
 * contract's shape.
 */
export function buildReplica ({ serverId, ...options }: ReplicaOptions): FastifyInstance {
  const app = Fastify(options)
  app.get('/home', async () => ({ message: `Hello from Server: ${serverId}`, status: 'successful' }))
  app.get('/heartbeat', async (_request, reply) => reply.type('text/plain').send('Hello'))
  void app.register(websocket, { options: { maxPayload: 1 << 20 } })
  void app.register(async (scope) => {
    scope.websocketServer.on('headers', (headers) => { headers.push(`x-server-id: ${serverId}`) })
    scope.route({
      method: 'GET',
      url: '/echo',
      // a plain GET is told what the route needs, as 426 means
      handler: async (_request, reply) => await reply.code(426).header('upgrade', 'websocket')
        .send({ message: '<Error> \'/echo\' is a WebSocket endpoint: send Upgrade: websocket', status: 'failure' }),
      wsHandler: (socket) => {
        socket.on('message', (data, isBinary) => { socket.send(data, { binary: isBinary }) })
      }
    })
  })
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?', 1)[0]
    return await reply.code(404).send({ message: `<Error> '${path}' endpoint does not exist in server replicas`, status: 'failure' })
  })
  return app
}
