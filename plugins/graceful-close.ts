import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** true once the balancer has begun to close */
    readonly closing: boolean
  }
}

/**
 * Once the balancer is closing, every response closes its connection. Fastify
 * stops accepting and drops idle keep-alive connections when close starts, but
 * a connection whose request was in flight then would stay open after its
 * answer, holding the close up for the whole keep-alive timeout (72 s), past
 * close-with-grace's deadline: the balancer would exit 1 and leave its
 * replicas to be killed instead of stopped. Proxied answers bypass onSend, so
 * the proxy reads `closing` itself.
 */
export default fp(async (app) => {
  let closing = false
  app.decorate('closing', { getter: () => closing })
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply, payload) => {
    // HTTP/2 has no Connection header (its sessions end with GOAWAY when the server closes)
    if (closing && reply.request.raw.httpVersionMajor < 2) reply.header('connection', 'close')
    return payload
  })
}, { name: 'graceful-close' })
