// The ringlb dashboard: polls /stats every second, fetches /ring when the ring's
// members change, and drives the admin API (/add, /rm), asking for the admin
// token when the balancer answers 401. Plain browser JavaScript, no build step.

const POLL_MS = 1000
const SPARK_POINTS = 60
const MAX_EVENTS = 10
const TOKEN_KEY = 'ringlb.adminToken'
const SVG = 'http://www.w3.org/2000/svg'
// hues that stay apart on the dark background; picked by numeric server id, so a replica keeps its colour
const PALETTE = ['#38bdf8', '#f59e0b', '#34d399', '#f472b6', '#a78bfa', '#fb7185', '#facc15', '#2dd4bf', '#60a5fa', '#fb923c', '#a3e635', '#e879f9']
const CAPTIONS = {
  maglev: 'Outer ring: the owner of each part of the key space (Maglev lookup table, each replica spread all around it). Inner ring: each replica\'s total share.',
  ring: 'Outer ring: the owner of each arc between ketama points (many virtual nodes per replica). Inner ring: each replica\'s total share.',
  assignment: 'Outer ring: the slots each replica\'s virtual servers serve, clockwise. Inner ring: each replica\'s total share.'
}

const $ = (id) => document.getElementById(id)
const colourOf = (id) => PALETTE[id % PALETTE.length]
const nf = new Intl.NumberFormat('en')
const rateFormat = (r) => r >= 100 ? nf.format(Math.round(r)) : r.toFixed(1)

let token = sessionStorage.getItem(TOKEN_KEY)
let previous // the last /stats answer, for rates
const rates = new Map() // hostname -> smoothed req/s
let totalRate = 0
const history = []
let ringSignature = ''
let lastUpdate = 0
const rows = new Map() // hostname -> <tr>
let replicaIds = new Map() // hostname -> numeric id, for colours

// ---- admin API -----------------------------------------------------------

class Cancelled extends Error {}

async function admin (method, path, body) {
  for (;;) {
    const headers = { 'content-type': 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    const res = await fetch(path, { method, headers, body: JSON.stringify(body) })
    const answer = await res.json().catch(() => ({ message: `<Error> HTTP ${res.status}` }))
    if (res.status !== 401) {
      if (!res.ok) throw new Error(String(answer.message ?? `HTTP ${res.status}`).replace(/^<Error> /, ''))
      return answer
    }
    const reason = token ? 'The balancer did not accept that token. Try again.' : 'This balancer protects /add and /rm with LB_ADMIN_TOKEN.'
    token = await askToken(reason)
    sessionStorage.setItem(TOKEN_KEY, token)
    showForget()
  }
}

function askToken (reason) {
  const dialog = $('token-dialog')
  $('token-reason').textContent = reason
  $('token-input').value = ''
  // Escape closes the dialog without a new return value: clear the last one
  dialog.returnValue = ''
  dialog.showModal()
  return new Promise((resolve, reject) => {
    const done = () => {
      dialog.removeEventListener('close', done)
      const value = $('token-input').value
      if (dialog.returnValue === 'ok' && value) resolve(value)
      else reject(new Cancelled('no token given'))
    }
    dialog.addEventListener('close', done)
  })
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault()
  $('token-dialog').close('ok')
})
$('token-cancel').addEventListener('click', () => $('token-dialog').close('cancel'))

function showForget () { $('forget-token').hidden = !token }
$('forget-token').addEventListener('click', () => {
  token = null
  sessionStorage.removeItem(TOKEN_KEY)
  showForget()
  toast('Admin token forgotten')
})

async function act (button, busyLabel, action, done) {
  const label = button.textContent
  button.disabled = true
  button.classList.add('busy')
  button.textContent = busyLabel
  try {
    const answer = await action()
    toast(done(answer), 'ok')
    await refresh()
  } catch (err) {
    if (!(err instanceof Cancelled)) toast(err.message, 'error')
  } finally {
    button.disabled = false
    button.classList.remove('busy')
    button.textContent = label
  }
}

$('add-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const name = $('add-name').value.trim()
  const before = new Set(previous?.replicas.map(r => r.hostname) ?? [])
  void act($('add'), 'Adding…', () => admin('POST', '/add', name ? { n: 1, hostnames: [name] } : { n: 1 }), (answer) => {
    $('add-name').value = ''
    const added = answer.message.replicas.filter(h => !before.has(h))
    return `Added ${added.join(', ') || 'a replica'} · ${answer.message.N} in the ring`
  })
})

$('remove-newest').addEventListener('click', (event) => {
  void act(event.currentTarget, 'Removing…', () => admin('DELETE', '/rm', { n: 1 }),
    (answer) => `Removed the newest replica · ${answer.message.N} in the ring`)
})

function removeButton (hostname) {
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'ghost danger small'
  button.textContent = 'Remove'
  button.title = `remove ${hostname}`
  let armed
  // a second click within 3 s confirms: one stray click never takes a replica down
  button.addEventListener('click', () => {
    if (!armed) {
      button.textContent = 'Confirm'
      button.classList.add('armed')
      armed = setTimeout(() => { armed = undefined; button.textContent = 'Remove'; button.classList.remove('armed') }, 3000)
      return
    }
    clearTimeout(armed)
    armed = undefined
    button.classList.remove('armed')
    button.textContent = 'Remove'
    void act(button, 'Removing…', () => admin('DELETE', '/rm', { n: 1, hostnames: [hostname] }),
      (answer) => `Removed ${hostname} · ${answer.message.N} in the ring`)
  })
  return button
}

// ---- polling ---------------------------------------------------------------

async function getJson (path) {
  const res = await fetch(path, { cache: 'no-store' })
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return await res.json()
}

async function refresh () {
  const stats = await getJson('/stats')
  replicaIds = new Map(stats.replicas.map(r => [r.hostname, r.id]))
  logChanges(previous, stats)
  updateRates(stats)
  renderTotals(stats)
  renderTable(stats)
  const signature = `${stats.scheme}|${stats.replicas.filter(r => r.state === 'healthy').map(r => r.hostname).join(',')}`
  if (signature !== ringSignature) {
    renderRing(await getJson('/ring'))
    ringSignature = signature
  }
  renderShares(stats)
  lastUpdate = Date.now()
  setLive(true)
}

function updateRates (stats) {
  if (previous) {
    const seconds = Math.max(0.001, (stats.time - previous.time) / 1000)
    const before = new Map(previous.replicas.map(r => [r.hostname, r.requests]))
    for (const r of stats.replicas) {
      const now = Math.max(0, r.requests - (before.get(r.hostname) ?? r.requests)) / seconds
      // smoothed so that a burst does not flicker
      rates.set(r.hostname, 0.5 * now + 0.5 * (rates.get(r.hostname) ?? now))
    }
    const total = Math.max(0, stats.totals.requests - previous.totals.requests) / seconds
    totalRate = 0.5 * total + 0.5 * totalRate
    history.push(totalRate)
    if (history.length > SPARK_POINTS) history.shift()
  }
  for (const hostname of rates.keys()) if (!stats.replicas.some(r => r.hostname === hostname)) rates.delete(hostname)
  previous = stats
}

async function loop () {
  try {
    await refresh()
  } catch {
    setLive(false)
  }
  setTimeout(loop, POLL_MS)
}

function setLive (ok) {
  const live = $('live')
  live.classList.toggle('down', !ok)
  live.querySelector('span').textContent = ok ? 'live' : 'disconnected'
}

// ---- rendering -------------------------------------------------------------

function renderTotals (stats) {
  $('scheme').textContent = stats.scheme
  $('caption').textContent = CAPTIONS[stats.scheme] ?? ''
  $('total-rate').textContent = rateFormat(totalRate)
  $('center-rate').textContent = rateFormat(totalRate)
  $('center-members').textContent = `${stats.ring_size} ${stats.ring_size === 1 ? 'replica' : 'replicas'} in ring`
  $('total-requests').textContent = nf.format(stats.totals.requests)
  $('total-errors').textContent = nf.format(stats.totals.errors)
  $('total-errors').classList.toggle('bad', stats.totals.errors > 0)
  $('total-retries').textContent = nf.format(stats.totals.retries)
  $('total-respawns').textContent = nf.format(stats.totals.respawns)
  $('total-misses').textContent = nf.format(stats.totals.heartbeat_failures)
  const peak = Math.max(1, ...history)
  const step = 120 / (SPARK_POINTS - 1)
  const offset = SPARK_POINTS - history.length
  $('spark').querySelector('path').setAttribute('d', history.map((v, i) => `${i === 0 ? 'M' : 'L'}${((offset + i) * step).toFixed(1)} ${(26 - 24 * v / peak).toFixed(1)}`).join(''))
}

function cell (row, index) { return row.children[index] }

function newRow (hostname) {
  const row = document.createElement('tr')
  row.dataset.hostname = hostname
  row.innerHTML = '<td><div class="name"><i class="swatch"></i><span class="host"></span><span class="id"></span></div></td>' +
    '<td><span class="state"></span></td><td class="num share"></td>' +
    '<td class="rate-col"><div class="rate"><span class="bar"><i></i></span><span class="rate-value"></span></div></td>' +
    '<td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="num"></td><td class="act"></td>'
  row.querySelector('.host').textContent = hostname
  cell(row, 9).append(removeButton(hostname))
  row.addEventListener('mouseenter', () => focusReplica(hostname))
  row.addEventListener('mouseleave', () => focusReplica(undefined))
  return row
}

function renderTable (stats) {
  const tbody = $('replicas').tBodies[0]
  const seen = new Set()
  const peak = Math.max(1, ...stats.replicas.map(r => rates.get(r.hostname) ?? 0))
  for (const r of stats.replicas) {
    seen.add(r.hostname)
    let row = rows.get(r.hostname)
    if (!row) {
      row = newRow(r.hostname)
      rows.set(r.hostname, row)
    }
    tbody.append(row) // keeps the rows in server-id order
    row.dataset.state = r.state
    row.querySelector('.swatch').style.background = colourOf(r.id)
    row.querySelector('.id').textContent = `#${r.id}`
    const state = row.querySelector('.state')
    state.textContent = r.state
    state.className = `state ${r.state}`
    cell(row, 2).textContent = r.state === 'healthy' ? `${(r.share * 100).toFixed(1)}%` : '–'
    const rate = rates.get(r.hostname) ?? 0
    row.querySelector('.rate-value').textContent = rateFormat(rate)
    const bar = row.querySelector('.bar i')
    bar.style.width = `${(100 * rate / peak).toFixed(1)}%`
    bar.style.background = colourOf(r.id)
    cell(row, 4).textContent = nf.format(r.requests)
    cell(row, 5).textContent = nf.format(r.errors)
    cell(row, 5).classList.toggle('bad', r.errors > 0)
    cell(row, 6).textContent = nf.format(r.retries)
    cell(row, 7).textContent = nf.format(r.respawns)
    cell(row, 8).textContent = nf.format(r.heartbeat_failures)
  }
  for (const [hostname, row] of rows) {
    if (!seen.has(hostname)) {
      row.remove()
      rows.delete(hostname)
    }
  }
  $('empty').hidden = stats.replicas.length > 0
}

const CX = 200
const CY = 200
const OUTER = [150, 190]
const INNER = [128, 142]

function point (r, turn) {
  const a = turn * 2 * Math.PI
  return `${(CX + r * Math.sin(a)).toFixed(2)} ${(CY - r * Math.cos(a)).toFixed(2)}`
}

/** An annulus sector from turn t0 to t1 (fractions of a full turn, clockwise from the top). */
function sector ([r0, r1], t0, t1) {
  if (t1 - t0 >= 0.9999) return `${sector([r0, r1], 0, 0.5)}${sector([r0, r1], 0.5, 1)}`
  const large = t1 - t0 > 0.5 ? 1 : 0
  return `M${point(r1, t0)}A${r1} ${r1} 0 ${large} 1 ${point(r1, t1)}L${point(r0, t1)}A${r0} ${r0} 0 ${large} 0 ${point(r0, t0)}Z`
}

function svgElement (name, attributes, text) {
  const element = document.createElementNS(SVG, name)
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value)
  if (text !== undefined) element.textContent = text
  return element
}

function renderRing (layout) {
  const group = $('segments')
  const fresh = document.createElementNS(SVG, 'g')
  fresh.id = 'segments'
  fresh.classList.add('redrawn')
  for (const segment of layout.segments) {
    const id = replicaIds.get(segment.hostname) ?? 0
    // a hair of overlap hides the seams between neighbouring arcs
    const path = svgElement('path', {
      d: sector(OUTER, segment.start, Math.min(1, segment.start + segment.length + 0.0004)),
      fill: colourOf(id),
      class: 'seg',
      'data-hostname': segment.hostname
    })
    path.append(svgElement('title', {}, segment.hostname))
    fresh.append(path)
  }
  group.replaceWith(fresh)
  const ring = $('ring')
  ring.dataset.members = String(layout.size)
  ring.dataset.scheme = layout.scheme
}

function renderShares (stats) {
  const group = $('shares')
  group.replaceChildren()
  const members = stats.replicas.filter(r => r.state === 'healthy' && r.share > 0)
  const gap = members.length > 1 ? 0.004 : 0
  let at = 0
  for (const r of members) {
    const path = svgElement('path', {
      d: sector(INNER, at + gap / 2, at + r.share - gap / 2),
      fill: colourOf(r.id),
      class: 'seg share',
      'data-hostname': r.hostname
    })
    path.append(svgElement('title', {}, `${r.hostname}: ${(r.share * 100).toFixed(2)}% of the key space`))
    group.append(path)
    at += r.share
  }
}

function renderTicks () {
  const group = $('ticks')
  for (let i = 0; i < 64; i++) {
    const major = i % 16 === 0
    const t = i / 64
    group.append(svgElement('path', { d: `M${point(194, t)}L${point(major ? 201 : 198, t)}`, class: major ? 'tick major' : 'tick' }))
  }
  for (const [t, label] of [[0, '0'], [0.25, '¼'], [0.5, '½'], [0.75, '¾']]) {
    const [x, y] = point(209, t).split(' ')
    group.append(svgElement('text', { x, y, class: 'tick-label' }, label))
  }
}

function focusReplica (hostname) {
  const ring = $('ring')
  ring.classList.toggle('focus', hostname !== undefined)
  for (const path of ring.querySelectorAll('path.seg')) path.classList.toggle('hot', path.dataset.hostname === hostname)
}

// ---- events ----------------------------------------------------------------

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`

/** What changed between two /stats answers, in an operator's words. */
function logChanges (before, now) {
  if (!before) {
    logEvent(`Connected · ${plural(now.ring_size, 'replica')} in the ${now.scheme} ring`, 'info')
    return
  }
  const old = new Map(before.replicas.map(r => [r.hostname, r]))
  for (const r of now.replicas) {
    const was = old.get(r.hostname)
    if (!was) {
      logEvent(`${r.hostname} joined (${r.state})`, 'ok', r.id)
      continue
    }
    if (r.respawns > was.respawns) logEvent(`${r.hostname} respawned after failing`, 'warn', r.id)
    else if (r.state !== was.state) logEvent(`${r.hostname}: ${was.state} → ${r.state}`, r.state === 'healthy' ? 'ok' : r.state === 'failed' ? 'bad' : 'warn', r.id)
    if (r.heartbeat_failures > was.heartbeat_failures) logEvent(`${r.hostname} missed ${plural(r.heartbeat_failures - was.heartbeat_failures, 'heartbeat')}`, 'warn', r.id)
    if (r.retries > was.retries) logEvent(`${plural(r.retries - was.retries, 'request')} retried away from ${r.hostname}`, 'warn', r.id)
  }
  const current = new Set(now.replicas.map(r => r.hostname))
  for (const r of before.replicas) if (!current.has(r.hostname)) logEvent(`${r.hostname} removed`, 'info', r.id)
}

function logEvent (text, kind, id) {
  const item = document.createElement('li')
  item.className = kind
  const time = document.createElement('time')
  time.textContent = new Date().toLocaleTimeString([], { hour12: false })
  const dot = document.createElement('i')
  if (id !== undefined) dot.style.background = colourOf(id)
  const message = document.createElement('span')
  message.textContent = text
  item.append(time, dot, message)
  const list = $('events')
  list.prepend(item)
  while (list.children.length > MAX_EVENTS) list.lastChild.remove()
}

// ---- toasts and the live clock ---------------------------------------------

function toast (message, kind = 'info') {
  const element = document.createElement('div')
  element.className = `toast ${kind}`
  element.textContent = message
  $('toasts').append(element)
  setTimeout(() => element.classList.add('gone'), kind === 'error' ? 6000 : 3000)
  setTimeout(() => element.remove(), kind === 'error' ? 6500 : 3500)
}

setInterval(() => {
  if (lastUpdate > 0 && Date.now() - lastUpdate > 3 * POLL_MS) setLive(false)
}, POLL_MS)

renderTicks()
showForget()
void loop()
