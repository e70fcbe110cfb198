import t from 'tap'
import { once } from 'node:events'
import http from 'node:http'
import { ReplicaPools } from '../../lib/proxy/replica-pools.js'

t.test('a pool per origin, released with its replica; a request after close is sent and leaves no pool behind', async t => {
  const server = http.createServer((_req, res) => { res.end('ok') })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const pools = new ReplicaPools()

  const first = await pools.request({ origin, path: '/', method: 'GET' })
  t.equal(await first.body.text(), 'ok')
  t.same([...pools.connections()], [[origin, 1]], 'a pool for the origin, its connection open')
  await pools.release(origin)
  t.same([...pools.connections().keys()], [], 'gone with its replica')

  await pools.close()
  const late = await pools.request({ origin, path: '/', method: 'GET' })
  t.equal(await late.body.text(), 'ok', 'a late request (a retry during shutdown) is still answered')
  t.same([...pools.connections().keys()], [], 'on a pool that is not kept')
})
