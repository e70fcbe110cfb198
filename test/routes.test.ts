import t from 'tap'
import { build } from './helper.js'

t.test('GET /heartbeat answers Hello as text', async t => {
  const app = await build(t)
  const res = await app.inject('/heartbeat')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'Hello')
  t.match(res.headers['content-type'], /^text\/plain/)
})

t.test('GET /rep lists the three starting replicas', async t => {
  const app = await build(t)
  const res = await app.inject('/rep')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { N: 3, replicas: ['server-0', 'server-1', 'server-2'] })
})
