import type { AddressInfo } from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { buildReplica } from '../replica/app.js'

t.test('the replica\'s /echo WebSocket sends each message back and names the replica in its 101', async t => {
  const replica = buildReplica({ serverId: '7' })
  t.teardown(async () => await replica.close())
  await replica.listen({ port: 0, host: '127.0.0.1' })
  const { port } = replica.server.address() as AddressInfo

  const socket = new WebSocket(`ws://127.0.0.1:${port}/echo`)
  const upgrade = new Promise<string | string[] | undefined>(resolve => socket.once('upgrade', response => { resolve(response.headers['x-server-id']) }))
  await new Promise((resolve, reject) => { socket.once('open', resolve).once('error', reject) })
  t.equal(await upgrade, '7')
  const replies: Array<{ data: string, binary: boolean }> = []
  const got = new Promise<void>(resolve => socket.on('message', (data, binary) => {
    replies.push({ data: data.toString(), binary })
    if (replies.length === 2) resolve()
  }))
  socket.send('hello')
  socket.send(Buffer.from('bytes'), { binary: true })
  await got
  t.same(replies, [{ data: 'hello', binary: false }, { data: 'bytes', binary: true }])
  const closed = new Promise<number>(resolve => socket.once('close', code => { resolve(code) }))
  socket.close(1000)
  t.equal(await closed, 1000)
})

t.test('a plain GET of /echo is told to upgrade, with 426 in the error shape', async t => {
  const replica = buildReplica({ serverId: '7' })
  t.teardown(async () => await replica.close())
  const res = await replica.inject({ method: 'GET', url: '/echo' })
  t.equal(res.statusCode, 426)
  t.equal(res.headers.upgrade, 'websocket')
  t.same(res.json(), { message: '<Error> \'/echo\' is a WebSocket endpoint: send Upgrade: websocket', status: 'failure' })
  const other = await replica.inject({ method: 'GET', url: '/nowhere' })
  t.same(other.json(), { message: '<Error> \'/nowhere\' endpoint does not exist in server replicas', status: 'failure' })
})
