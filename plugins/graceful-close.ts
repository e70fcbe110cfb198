import fp from 'fastify-plugin'

/**
 * Once the balancer is closing, every response closes its connection. Fastify
 * stops accepting and drops idle keep-alive connections when close starts, but
 * a connection whose request was in flight then would stay open after its
 * answer, holding the close up for the whole keep-alive timeout (72 s), past
 * close-with-grace's deadline: the balancer would exit 1 and leave its
 * replicas to be killed instead of stopped.
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close')
    return payload
  })
}, { name: 'graceful-close' })
