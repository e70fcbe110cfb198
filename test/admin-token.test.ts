import t from 'tap'
import { build } from './helper.js'

const TOKEN = 'operator-s3cret'
const app = await build(t, { LB_ADMIN_TOKEN: TOKEN })

t.test('with LB_ADMIN_TOKEN set, read-only routes stay open', async t => {
  for (const url of ['/heartbeat', '/rep', '/map_request?id=42', '/stats', '/ring', '/metrics', '/dashboard', '/docs/json', '/home?id=42']) {
    t.equal((await app.inject(url)).statusCode, 200, `GET ${url} needs no token`)
  }
})

t.test('with LB_ADMIN_TOKEN set, /add and /rm need the bearer token and change nothing without it', async t => {
  const replicas = async () => (await app.inject('/rep')).json().replicas

  const attempts = [
    { name: 'no header', headers: {} },
    { name: 'wrong token', headers: { authorization: 'Bearer not-the-token' } },
    { name: 'token without the Bearer scheme', headers: { authorization: TOKEN } },
    { name: 'a longer token', headers: { authorization: `Bearer ${TOKEN}x` } }
  ]
  for (const { name, headers } of attempts) {
    for (const [method, url] of [['POST', '/add'], ['DELETE', '/rm']] as const) {
      const res = await app.inject({ method, url, headers, payload: { n: 1 } })
      t.equal(res.statusCode, 401, `${method} ${url}, ${name}: 401`)
      t.match(res.json(), { message: /^<Error> .*admin token/, status: 'failure' })
      t.equal(res.headers['www-authenticate'], 'Bearer realm="ringlb"')
    }
  }
  // the token is checked before the body: a bad body without a token is still a 401
  const unauthorisedBadBody = await app.inject({ method: 'POST', url: '/add', payload: { n: 'two' } })
  t.equal(unauthorisedBadBody.statusCode, 401)
  t.same(await replicas(), ['server-0', 'server-1', 'server-2'], 'nothing changed')

  const added = await app.inject({ method: 'POST', url: '/add', headers: { authorization: `Bearer ${TOKEN}` }, payload: { n: 1 } })
  t.equal(added.statusCode, 200)
  t.same(added.json(), { message: { N: 4, replicas: ['server-0', 'server-1', 'server-2', 'server-3'] }, status: 'successful' })
  const removed = await app.inject({ method: 'DELETE', url: '/rm', headers: { authorization: `Bearer ${TOKEN}` }, payload: { n: 1, hostnames: ['server-0'] } })
  t.equal(removed.statusCode, 200)
  t.same(await replicas(), ['server-1', 'server-2', 'server-3'])
})

t.test('without LB_ADMIN_TOKEN, /add needs no token', async t => {
  const open = await build(t)
  const res = await open.inject({ method: 'POST', url: '/add', payload: { n: 1 } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().message.N, 4)
})
