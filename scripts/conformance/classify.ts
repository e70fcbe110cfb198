import type { Arrival } from './upstream.js'
import type { Answer, Outcome } from './wire.js'

/*
 * What a proxy did with one case, from what its client read back and what
 * its upstream received. The faults, in order of precedence: a request the
 * client did not send reached the upstream (smuggled); the client read an
 * answer to something it did not ask, or its second request went unanswered
 * for an answer that never ended (desynced); nothing at all came back on an
 * open connection (hung).
 */

export type Verdict = 'refused' | 'normalised' | 'as-is' | 'smuggled' | 'desynced' | 'hung'
export const FAULTS: ReadonlySet<Verdict> = new Set(['smuggled', 'desynced', 'hung'])

export interface Classified {
  verdict: Verdict
  /** what the client read: its answers' statuses, and how the connection ended */
  detail: string
}

const fromUpstream = (answer: Answer): boolean => answer.headers.get('x-upstream') === '1'

function describe (outcome: Outcome): string {
  const statuses = outcome.answers.map(a => `${a.status}${a.complete ? '' : '…'}`).join(' ')
  return `${statuses === '' ? '-' : statuses}${outcome.closed ? ' closed' : ''}`
}

/** A request case: `caseArrivals` reached the upstream with the case's own target, `hiddenArrivals` with the hidden one's. */
export function classifyRequest (outcome: Outcome, caseArrivals: Arrival[], hiddenArrivals: Arrival[], secondTarget: string, probe: string | undefined): Classified {
  const detail = describe(outcome)
  if (hiddenArrivals.length > 0 || outcome.raw.includes('/smuggled')) return { verdict: 'smuggled', detail }
  const [first, second, ...more] = outcome.answers
  // each upstream answer echoes the target it answered: the second must be the second request's
  if (more.length > 0 || (second !== undefined && fromUpstream(second) && !second.body.includes(secondTarget))) return { verdict: 'desynced', detail }
  // on a connection left open, both requests are owed an answer
  if (!outcome.closed && outcome.answers.filter(a => a.complete).length < 2) return { verdict: 'hung', detail }
  if (caseArrivals.length > 0) {
    const seen = caseArrivals.map(a => a.head + '\r\n\r\n' + a.body).join('')
    return { verdict: probe !== undefined && seen.includes(probe) ? 'as-is' : 'normalised', detail }
  }
  // answered by the proxy itself, or the connection closed with no answer
  if (first !== undefined && fromUpstream(first)) return { verdict: 'desynced', detail }
  return { verdict: 'refused', detail }
}

/** A response case: the upstream's scripted answer went to the first request. */
export function classifyResponse (outcome: Outcome, secondTarget: string, probe: string | undefined): Classified {
  const detail = describe(outcome)
  const [first, second, ...more] = outcome.answers
  if (outcome.answers.some(a => a.headers.has('x-injected')) || more.length > 0) return { verdict: 'desynced', detail }
  if (second !== undefined && second.complete && !(fromUpstream(second) && second.body.includes(secondTarget)) && second.status < 500) return { verdict: 'desynced', detail }
  if (!outcome.closed && outcome.answers.filter(a => a.complete).length < 2) return { verdict: 'hung', detail }
  // the proxy's own error answer, or the connection cut before the answer was whole
  if (first === undefined || !first.complete || first.status === 502 || first.status === 503) return { verdict: 'refused', detail }
  return { verdict: probe !== undefined && outcome.raw.includes(probe) ? 'as-is' : 'normalised', detail }
}
