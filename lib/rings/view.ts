import type { Arc } from './index.js'

export interface RingView {
  /** each owner's fraction of the key space, exact */
  shares: Map<string, number>
  /** at most `resolution` arcs covering the key space in order, for drawing */
  segments: Arc[]
}

/**
 * What a picture of the ring needs: exact shares, and arcs few enough to draw.
 * A maglev table has tens of thousands of runs, far below a pixel each, so
 * past `resolution` arcs the key space is cut into that many equal bins, each
 * drawn in the colour of the owner holding most of it.
 */
export function ringView (arcs: Arc[], resolution = 720): RingView {
  const shares = new Map<string, number>()
  const pieces: Arc[] = []
  for (const arc of arcs) {
    shares.set(arc.hostname, (shares.get(arc.hostname) ?? 0) + arc.length)
    // a ketama arc may wrap past the top of the key space
    const end = arc.start + arc.length
    if (end > 1) {
      pieces.push({ start: arc.start, length: 1 - arc.start, hostname: arc.hostname })
      pieces.push({ start: 0, length: end - 1, hostname: arc.hostname })
    } else {
      pieces.push(arc)
    }
  }
  pieces.sort((a, b) => a.start - b.start)
  const runs = mergeRuns(pieces)
  return { shares, segments: runs.length <= resolution ? runs : mergeRuns(majorityBins(pieces, resolution)) }
}

/** Joins neighbouring arcs of the same owner. */
function mergeRuns (sorted: Arc[]): Arc[] {
  const out: Arc[] = []
  for (const arc of sorted) {
    const last = out[out.length - 1]
    if (last?.hostname === arc.hostname) last.length = arc.start + arc.length - last.start
    else out.push({ ...arc })
  }
  return out
}

function majorityBins (sorted: Arc[], bins: number): Arc[] {
  const owners = [...new Set(sorted.map(a => a.hostname))]
  const index = new Map(owners.map((h, i) => [h, i]))
  const held = new Float64Array(bins * owners.length)
  for (const arc of sorted) {
    const o = index.get(arc.hostname) as number
    let from = arc.start * bins
    const to = Math.min(bins, (arc.start + arc.length) * bins)
    while (from < to) {
      // from < to <= bins: the bin is at most bins - 1
      const bin = Math.floor(from)
      const next = Math.min(to, bin + 1)
      held[bin * owners.length + o] += next - from
      from = next
    }
  }
  const out: Arc[] = []
  for (let bin = 0; bin < bins; bin++) {
    let best = -1
    let most = 0
    for (let o = 0; o < owners.length; o++) {
      const h = held[bin * owners.length + o]
      if (h > most) { most = h; best = o }
    }
    if (best >= 0) out.push({ start: bin / bins, length: 1 / bins, hostname: owners[best] })
  }
  return out
}
