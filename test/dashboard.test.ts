import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { type Browser, type Page, chromium } from 'playwright-core'
import t, { type Test } from 'tap'
import { build } from './helper.js'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = join(import.meta.dirname, '..', 'test-results', 'dashboard.png')
const ROWS = '#replicas tbody tr'
const TOKEN = 'dash-token'

/** Proxied requests to the balancer for `ms`, so the page has rates to show; bounded in time and count. */
async function traffic (base: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  for (let i = 0; i < 2000 && Date.now() < deadline; i++) {
    await fetch(`${base}/home?id=${100_000 + ((i * 7919) % 900_000)}`).then(async res => await res.arrayBuffer())
    await new Promise(resolve => setTimeout(resolve, 8))
  }
}

/** Waits for the table to show n replicas; an /add waits for its replica's first heartbeat, slow on a busy machine. */
async function rowCount (page: Page, n: number): Promise<void> {
  await page.waitForFunction(([sel, count]) => document.querySelectorAll(sel).length === count, [ROWS, n] as const, { timeout: 40_000 })
}

async function ringOwners (page: Page): Promise<string[]> {
  return await page.$$eval('#segments path.seg', paths => [...new Set(paths.map(p => p.getAttribute('data-hostname') as string))].sort())
}

async function serve (t: Test, env: Record<string, string> = {}): Promise<string> {
  const app = await build(t, env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

if (!existsSync(CHROMIUM) && process.env.CI !== 'true') {
  t.plan(0, `no browser at ${CHROMIUM} (apt-get install chromium); CI runs this test`)
} else {
  let browser: Browser
  t.before(async () => {
    t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (.ci/run installs Debian's chromium)`)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']
    })
  })
  t.teardown(async () => { await browser?.close() })

  // one balancer for the whole walk through: every balancer started costs three replica processes
  t.test('the dashboard shows 3 replicas, adds a 4th with its button (asking for the admin token) and redraws the ring', async t => {
    const base = await serve(t, { LB_ADMIN_TOKEN: TOKEN })
    const page = await browser.newPage({ viewport: { width: 1440, height: 720 } })
    t.teardown(async () => { await page.close() })
    const errors: string[] = []
    page.on('pageerror', err => errors.push(err.message))
    const rep = async () => await (await fetch(`${base}/rep`)).json()

    await page.goto(`${base}/dashboard`)
    await rowCount(page, 3)
    await page.waitForSelector('#ring[data-members="3"]')
    t.same(await page.$$eval(ROWS, rows => rows.map(r => (r as HTMLElement).dataset.hostname)), ['server-0', 'server-1', 'server-2'])
    t.same(await ringOwners(page), ['server-0', 'server-1', 'server-2'], 'the ring shows three owners')
    t.same(await page.$$eval(`${ROWS} .state`, cells => cells.map(c => c.textContent)), ['healthy', 'healthy', 'healthy'])
    await traffic(base, 2500)
    const rate = await page.textContent('#total-rate')
    t.ok(Number(rate) > 0, `the page shows a live request rate (${rate}/s)`)

    await page.getByRole('button', { name: 'Add replica' }).click()
    await page.waitForSelector('#token-dialog[open]')
    await page.fill('#token-input', 'wrong')
    await page.click('#token-save')
    await page.waitForFunction(() => document.querySelector('#token-dialog')?.hasAttribute('open') === true &&
      /did not accept/.test(document.querySelector('#token-reason')?.textContent ?? ''))
    t.equal((await rep()).N, 3, 'a wrong token adds nothing')
    await page.fill('#token-input', TOKEN)
    await page.click('#token-save')

    await rowCount(page, 4)
    await page.waitForSelector('#ring[data-members="4"]')
    t.same(await ringOwners(page), ['server-0', 'server-1', 'server-2', 'server-3'], 'the ring is redrawn with four owners')
    t.match(await page.textContent('#toasts'), /Added server-3/)
    t.equal((await rep()).N, 4, 'the balancer has four replicas')
    t.match(await page.textContent('#events'), /server-3 joined/)

    await traffic(base, 3000)
    await page.mouse.move(1, 1)
    await page.evaluate(() => { (document.activeElement as HTMLElement | null)?.blur() })
    await page.waitForFunction(() => document.querySelector('#toasts')?.childElementCount === 0)
    await mkdir(join(SCREENSHOT, '..'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    t.comment(`screenshot: ${SCREENSHOT}`)

    // the token is kept for the session: removing asks for nothing, and needs a second click to confirm
    const remove = page.locator(`${ROWS}[data-hostname="server-3"] button`)
    await remove.click()
    t.equal(await remove.textContent(), 'Confirm')
    await remove.click()
    await rowCount(page, 3)
    t.equal(await page.locator('#token-dialog[open]').count(), 0, 'no second prompt')
    t.same((await rep()).replicas, ['server-0', 'server-1', 'server-2'])
    await page.waitForSelector('#ring[data-members="3"]')

    // from 1024 px wide up (each layout, and the widths where it changes), nothing is clipped: no scroll bar on the page, none inside the replica table
    for (const width of [1024, 1200, 1400, 1600]) {
      await page.setViewportSize({ width, height: 800 })
      await page.waitForFunction(() => document.querySelectorAll('#replicas tbody tr').length === 3)
      const overflow = await page.evaluate(() => [document.documentElement, ...document.querySelectorAll('.table-wrap')]
        .filter(element => element.scrollWidth > element.clientWidth)
        .map(element => `${element.tagName.toLowerCase()}${element.className === '' ? '' : `.${element.className}`}: ${element.scrollWidth} > ${element.clientWidth}`))
      t.same(overflow, [], `no horizontal scroll at ${width} px`)
      const button = await page.locator(`${ROWS}[data-hostname="server-2"] button`).boundingBox()
      t.ok(button !== null && button.x + button.width <= width, `the Remove button is on screen at ${width} px`)
    }
    t.same(errors, [], 'no script errors on the page')
  })
}
