import t from 'tap'
import { build } from './helper.js'

const json = { 'content-type': 'application/json' }

t.test('GET /heartbeat answers Hello as text', async t => {
  const app = await build(t)
  const res = await app.inject('/heartbeat')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'Hello')
  t.match(res.headers['content-type'], /^text\/plain/)
})

t.test('read-only routes', async t => {
  const app = await build(t)

  t.test('GET /rep lists the three starting replicas', async t => {
    const res = await app.inject('/rep')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { N: 3, replicas: ['server-0', 'server-1', 'server-2'] })
  })

  t.test('GET /map_request names the replica the ring picks, with its numeric id', async t => {
    for (const id of [123456, 1, 999999, 500000]) {
      const res = await app.inject(`/map_request?id=${id}`)
      t.equal(res.statusCode, 200)
      const owner = app.ring.lookup(id)
      t.same(res.json(), { request_id: id, mapped_server: owner?.id, hostname: owner?.hostname })
    }
  })

  t.test('GET /map_request without an integer id is a 400 in the error shape', async t => {
    for (const query of ['', '?id=', '?id=abc', '?id=12.5', '?id=1e3', '?id=99999999999999999']) {
      const res = await app.inject(`/map_request${query}`)
      t.equal(res.statusCode, 400, query)
      t.match(res.json(), { message: /^<Error> /, status: 'failure' }, query)
    }
  })

  t.test('a wrong method on a balancer path is a 405, not proxied', async t => {
    const res = await app.inject({ method: 'POST', url: '/rep' })
    t.equal(res.statusCode, 405)
    t.equal(res.headers.allow, 'GET, HEAD')
    t.same(res.json(), { message: '<Error> method POST is not allowed on /rep; use GET, HEAD', status: 'failure' })
    t.equal(res.headers['x-ringlb-replica'], undefined)
    t.equal((await app.inject({ method: 'GET', url: '/add' })).statusCode, 405)
  })
})

t.test('GET /map_request with no replicas is a 503', async t => {
  const app = await build(t, { LB_REPLICAS: '0' })
  const res = await app.inject('/map_request?id=5')
  t.equal(res.statusCode, 503)
  t.same(res.json(), { message: '<Error> no replicas are available', status: 'failure' })
  const home = await app.inject('/home')
  t.equal(home.statusCode, 503)
  t.same(home.json(), { message: '<Error> no replicas are available', status: 'failure' })
})

t.test('POST /add and DELETE /rm', async t => {
  const app = await build(t, { LB_MAX_REPLICAS: '8' })
  const add = (body: unknown) => app.inject({ method: 'POST', url: '/add', headers: json, payload: JSON.stringify(body) })
  const rm = (body: unknown) => app.inject({ method: 'DELETE', url: '/rm', headers: json, payload: JSON.stringify(body) })
  const rep = async () => (await app.inject('/rep')).json()
  const processes = async () => (await app.replicas.driver.list()).map(r => r.hostname).sort()

  t.test('named and generated replicas join once they answer', async t => {
    const res = await add({ n: 2, hostnames: ['s4'] })
    t.equal(res.statusCode, 200)
    // s4 takes the lowest free id, 3; the generated one gets id 4 and the name server-4
    t.same(res.json(), { message: { N: 5, replicas: ['server-0', 'server-1', 'server-2', 's4', 'server-4'] }, status: 'successful' })
    t.same(app.replicas.healthy().map(r => [r.hostname, r.id]), [['server-0', 0], ['server-1', 1], ['server-2', 2], ['s4', 3], ['server-4', 4]])
    t.same(await processes(), ['s4', 'server-0', 'server-1', 'server-2', 'server-4'])
    const home = await app.inject('/home?id=1')
    t.equal(home.statusCode, 200)
  })

  t.test('/add errors change nothing', async t => {
    const before = await rep()
    const cases: Array<[unknown, number, string | RegExp]> = [
      [{ n: 1, hostnames: ['a', 'b'] }, 400, '<Error> Length of hostname list is more than newly added instances'],
      [{}, 400, /^<Error> invalid request: body must have required property 'n'/],
      [{ n: '2' }, 400, /^<Error> invalid request: body\/n must be integer/],
      [{ n: 1.5 }, 400, /must be integer/],
      [{ n: 0 }, 400, /must be >= 1/],
      [{ n: 9 }, 400, /must be <= 8/],
      [{ n: 4 }, 400, '<Error> adding 4 replicas to 5 would exceed LB_MAX_REPLICAS (8)'],
      [{ n: 1, hostnames: ['bad name'] }, 400, /^<Error> 'bad name' is not a valid hostname/],
      [{ n: 1, hostnames: ['-dash'] }, 400, /not a valid hostname/],
      [{ n: 1, hostnames: ['x'.repeat(64)] }, 400, /not a valid hostname/],
      [{ n: 2, hostnames: ['twin', 'twin'] }, 400, "<Error> hostname 'twin' is given more than once"],
      [{ n: 1, hostnames: ['s4'] }, 409, "<Error> a replica named 's4' already exists"],
      [{ n: 1, hostnames: [7] }, 400, /must be string/]
    ]
    for (const [body, status, message] of cases) {
      const res = await add(body)
      t.equal(res.statusCode, status, JSON.stringify(body))
      t.match(res.json(), { message, status: 'failure' }, JSON.stringify(body))
    }
    t.same(await rep(), before)
    t.same(await processes(), ['s4', 'server-0', 'server-1', 'server-2', 'server-4'])
  })

  t.test('malformed, mistyped and oversized bodies', async t => {
    const malformed = await app.inject({ method: 'POST', url: '/add', headers: json, payload: '{"n":' })
    t.equal(malformed.statusCode, 400)
    t.match(malformed.json(), { message: /^<Error> malformed JSON body/, status: 'failure' })
    const empty = await app.inject({ method: 'POST', url: '/add', headers: json, payload: '' })
    t.equal(empty.statusCode, 400)
    t.match(empty.json(), { message: /^<Error> body is empty/, status: 'failure' })
    const text = await app.inject({ method: 'POST', url: '/add', headers: { 'content-type': 'text/plain' }, payload: 'n=1' })
    t.equal(text.statusCode, 415)
    t.match(text.json(), { message: /^<Error> unsupported content type/, status: 'failure' })
    const none = await app.inject({ method: 'POST', url: '/add' })
    t.equal(none.statusCode, 400)
    t.match(none.json(), { message: /^<Error> invalid request: body must be object/, status: 'failure' })
    t.equal((await rep()).N, 5)
  })

  t.test('/rm errors change nothing', async t => {
    const cases: Array<[unknown, number, string | RegExp]> = [
      [{ n: 1, hostnames: ['s4', 'server-4'] }, 400, '<Error> Length of hostname list is more than removable instances'],
      [{ n: 1, hostnames: ['ghost'] }, 404, "<Error> 'ghost' is not a replica of this balancer"],
      [{ n: 6 }, 400, '<Error> cannot remove 6 replicas: this balancer has 5'],
      [{ n: 0 }, 400, /must be >= 1/],
      [{ n: 2, hostnames: ['s4', 's4'] }, 400, "<Error> hostname 's4' is given more than once"],
      [{ hostnames: ['s4'] }, 400, /required property 'n'/]
    ]
    for (const [body, status, message] of cases) {
      const res = await rm(body)
      t.equal(res.statusCode, status, JSON.stringify(body))
      t.match(res.json(), { message, status: 'failure' }, JSON.stringify(body))
    }
    t.equal((await rep()).N, 5)
    t.equal((await processes()).length, 5)
  })

  t.test('named replicas go first, then the highest ids', async t => {
    const res = await rm({ n: 2, hostnames: ['server-1'] })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { message: { N: 3, replicas: ['server-0', 'server-2', 's4'] }, status: 'successful' })
    t.same(await processes(), ['s4', 'server-0', 'server-2'])
  })

  t.test('a freed id is reused, lowest first', async t => {
    const res = await add({ n: 1 })
    t.same(res.json().message.replicas, ['server-0', 'server-1', 'server-2', 's4'])
    t.equal(app.replicas.healthy().find(r => r.hostname === 'server-1')?.id, 1)
  })

  t.test('concurrent changes are serialised: ring and processes agree', async t => {
    const results = await Promise.all([add({ n: 2 }), rm({ n: 1 }), add({ n: 1 }), rm({ n: 2 }), add({ n: 1 })])
    t.ok(results.every(r => r.statusCode === 200), results.map(r => r.statusCode).join(','))
    const final = await rep()
    t.equal(final.N, 4 + 2 - 1 + 1 - 2 + 1)
    t.same([...final.replicas].sort(), await processes())
  })
})

t.test('LB_ADMIN_TOKEN guards /add and /rm, not the read-only routes', async t => {
  const app = await build(t, { LB_ADMIN_TOKEN: 'opensesame', LB_REPLICAS: '1' })
  for (const authorization of [undefined, 'Bearer wrong', 'opensesame', 'Bearer opensesam']) {
    const headers: Record<string, string> = { ...json, ...(authorization === undefined ? {} : { authorization }) }
    const res = await app.inject({ method: 'POST', url: '/add', headers, payload: '{"n":1}' })
    t.equal(res.statusCode, 401, String(authorization))
    t.equal(res.headers['www-authenticate'], 'Bearer realm="ringlb"')
    t.match(res.json(), { message: /^<Error> missing or wrong admin token/, status: 'failure' })
    const del = await app.inject({ method: 'DELETE', url: '/rm', headers, payload: '{"n":1}' })
    t.equal(del.statusCode, 401)
  }
  t.equal((await app.inject('/rep')).json().N, 1, 'nothing changed')
  t.equal((await app.inject('/map_request?id=1')).statusCode, 200)
  const ok = await app.inject({ method: 'POST', url: '/add', headers: { ...json, authorization: 'Bearer opensesame' }, payload: '{"n":1}' })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().message.N, 2)
})

t.test('body limit', async t => {
  const app = await build(t, { LB_BODY_LIMIT: '64', LB_REPLICAS: '1' })
  const res = await app.inject({ method: 'POST', url: '/add', headers: json, payload: JSON.stringify({ n: 1, hostnames: ['a'.repeat(60)] }) })
  t.equal(res.statusCode, 413)
  t.same(res.json(), { message: '<Error> request body is larger than the limit (LB_BODY_LIMIT)', status: 'failure' })
  t.equal((await app.inject('/rep')).json().N, 1)
})

for (const scheme of ['maglev', 'ring', 'assignment']) {
  t.test(`LB_HASH=${scheme}: /map_request names the replica /home reaches`, async t => {
    const app = await build(t, { LB_HASH: scheme })
    t.equal(app.ring.scheme, scheme)
    for (const id of [1, 3, 17, 123456, 654321, 999999, 100000, 31337]) {
      const mapping = (await app.inject(`/map_request?id=${id}`)).json()
      const home = await app.inject(`/home?id=${id}`)
      t.equal(home.headers['x-ringlb-replica'], mapping.hostname, `id ${id}`)
      t.equal(home.json().message, `Hello from Server: ${mapping.mapped_server}`)
    }
    if (scheme === 'assignment') {
      // hand-computed in test/assignment.test.ts: H(3) = 32 is server-2's slot, H(123456) = 145 wraps to server-0
      t.same((await app.inject('/map_request?id=3')).json(), { request_id: 3, mapped_server: 2, hostname: 'server-2' })
      t.same((await app.inject('/map_request?id=123456')).json(), { request_id: 123456, mapped_server: 0, hostname: 'server-0' })
    }
  })
}

t.test('GET /map_request?key= names the owner of any text key, as the proxy hashes it', async t => {
  const app = await build(t)
  const { hashText } = await import('../lib/rings/hash.js')
  const byText = (await app.inject('/map_request?key=user-42')).json()
  const owner = app.ring.lookup(hashText('user-42'))
  t.same(byText, { key: 'user-42', mapped_server: owner?.id, hostname: owner?.hostname })
  const integer = (await app.inject('/map_request?key=123456')).json()
  const byId = (await app.inject('/map_request?id=123456')).json()
  t.same(integer, { key: '123456', mapped_server: byId.mapped_server, hostname: byId.hostname }, 'an integer key is the id itself')
  for (const query of ['', '?id=1&key=a']) {
    const res = await app.inject(`/map_request${query}`)
    t.equal(res.statusCode, 400, query)
    t.same(res.json(), { message: '<Error> give either id (an integer) or key (any text)', status: 'failure' })
  }
})

t.test('LB_HASH=round-robin: requests go to each replica in turn, and /map_request is a 409', async t => {
  const app = await build(t, { LB_HASH: 'round-robin' })
  const reached: string[] = []
  for (let i = 0; i < 6; i++) reached.push(String((await app.inject('/home?id=7')).headers['x-ringlb-replica']))
  t.same([...reached].sort(), ['server-0', 'server-0', 'server-1', 'server-1', 'server-2', 'server-2'], 'the same id, spread over all three in turn')
  t.not(reached[0], reached[1])
  for (const query of ['?id=7', '?key=abc']) {
    const res = await app.inject(`/map_request${query}`)
    t.equal(res.statusCode, 409)
    t.same(res.json(), { message: '<Error> LB_HASH=round-robin sends each request to the next replica in turn: no replica owns an id', status: 'failure' })
  }
})
