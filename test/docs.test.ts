import t from 'tap'
import { build } from './helper.js'

const app = await build(t)

t.test('the OpenAPI document describes the balancer\'s routes, admin errors included, and not the proxy', async t => {
  const res = await app.inject('/docs/json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc.openapi, /^3\./)
  t.same(Object.keys(doc.paths).sort(), ['/add', '/dashboard', '/heartbeat', '/map_request', '/metrics', '/ready', '/rep', '/ring', '/rm', '/stats', '/version'])
  const add = doc.paths['/add'].post
  const rm = doc.paths['/rm'].delete
  t.same(Object.keys(add.responses).sort(), ['200', '400', '401', '409', '413', '415', '502', '503'])
  t.same(Object.keys(rm.responses).sort(), ['200', '400', '401', '404', '413', '415', '502', '503'])
  for (const op of [add, rm]) {
    t.same(op.security, [{ adminToken: [] }])
    t.match(op.responses['401'].description, /LB_ADMIN_TOKEN/)
    t.same(op.responses['400'].content['application/json'].schema.required, ['message', 'status'])
    t.equal(op.requestBody.content['application/json'].schema.properties.n.type, 'integer')
  }
  t.same(doc.components.securitySchemes.adminToken, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.adminToken.description })
  t.ok(doc.paths['/map_request'].get.responses['400'], '/map_request documents its 400')
})

t.test('/docs, /metrics, /stats, /ring and /dashboard are the balancer\'s, never proxied', async t => {
  const pages = [['/docs', /text\/html/], ['/docs/', /text\/html/], ['/docs/yaml', /yaml/], ['/metrics', /text\/plain/], ['/stats', /json/], ['/ring', /json/], ['/dashboard', /text\/html/], ['/dashboard/app.js', /javascript/]] as const
  for (const [url, type] of pages) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, `GET ${url}`)
    t.match(res.headers['content-type'], type)
    t.notOk(res.headers['x-ringlb-replica'], `${url} is not proxied`)
  }
  const asset = await app.inject('/docs/static/swagger-ui.css')
  t.equal(asset.statusCode, 200, 'swagger-ui assets are served')
  for (const url of ['/metrics', '/stats', '/dashboard', '/docs/json']) {
    const res = await app.inject({ method: 'POST', url })
    t.equal(res.statusCode, 405, `POST ${url} is 405, not proxied`)
    t.match(res.json(), { message: /^<Error> method POST is not allowed/, status: 'failure' })
    t.match(res.headers.allow, /GET/)
  }
  const missing = await app.inject('/dashboard/missing.js')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().status, 'failure')
  t.notOk(missing.headers['x-ringlb-replica'])
})
