import { HOP_BY_HOP } from '../../lib/proxy/headers.js'
import { fastReadsRequest, fastReadsResponse } from './fast-path-view.js'
import { nodeReadsRequest, nodeReadsResponse } from './llhttp.js'

/*
 * The properties, each returning a divergence in words (undefined: none):
 * whatever the fast path forwards, llhttp reads as the same method, target,
 * version, headers and framing; whatever llhttp refuses, the fast path
 * refuses or hands to Node; an answer's end is found at the same byte.
 */

const OWS = /^[ \t]+|[ \t]+$/g
/** headers the fast path reads for itself rather than forwarding the line */
const OWN = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'content-length'])

export function requestDivergence (bytes: Buffer): string | undefined {
  const fast = fastReadsRequest(bytes)
  const node = nodeReadsRequest(bytes)
  if (fast.kind === 'wait') return node.kind === 'refused' ? `the fast path waits where Node refuses at byte ${node.at} (${node.code}): a hang` : undefined
  if (fast.kind === 'handoff') return undefined
  const { head, end } = fast
  if (node.kind !== 'request') return `the fast path forwards what Node reads as ${node.kind === 'refused' ? `refused at byte ${node.at} (${node.code})` : 'incomplete'}`
  if (node.at !== end) return `the head ends at byte ${end} for the fast path, ${node.at} for Node`
  if (!node.complete) return 'Node expects a body the fast path does not forward'
  if (node.method !== head.method || node.url !== head.target || node.version !== '1.1') return `request line: fast ${head.method} ${head.target}, Node ${node.method} ${node.url} HTTP/${node.version}`
  const forwarded: string[] = []
  let host: string | undefined
  let forwardedFor: string | undefined
  for (let i = 0; i < node.rawHeaders.length; i += 2) {
    const name = node.rawHeaders[i]
    const value = node.rawHeaders[i + 1].replace(OWS, '')
    const lower = name.toLowerCase()
    if (lower === 'host') host = value
    if (lower === 'x-forwarded-for') forwardedFor = value
    if (!OWN.has(lower) && !HOP_BY_HOP.has(lower)) forwarded.push(`${name}:${value}`)
  }
  if (host !== head.host) return `Host: fast ${JSON.stringify(head.host)}, Node ${JSON.stringify(host)}`
  if (forwardedFor !== head.forwardedFor) return `X-Forwarded-For: fast ${JSON.stringify(head.forwardedFor)}, Node ${JSON.stringify(forwardedFor)}`
  const fastLines = head.lines.map(line => `${line.slice(0, line.indexOf(':'))}:${line.slice(line.indexOf(':') + 1).replace(OWS, '')}`)
  if (fastLines.join('\n') !== forwarded.join('\n')) return `headers: fast ${JSON.stringify(fastLines)}, Node ${JSON.stringify(forwarded)}`
  return undefined
}

export async function responseDivergence (bytes: Buffer, method: 'GET' | 'HEAD'): Promise<string | undefined> {
  const fast = fastReadsResponse(bytes, method)
  const node = await nodeReadsResponse(bytes, method)
  if (fast.kind === 'refused') return undefined
  if (node.kind === 'refused') return `Node refuses at byte ${node.at} (${node.code}) what the fast path ${fast.kind === 'end' ? `passes on, ending at byte ${fast.at}` : 'keeps reading'}`
  if (fast.kind === 'incomplete') return node.kind === 'end' ? `Node ends the answer at byte ${node.at}, the fast path reads on` : undefined
  if (node.kind !== 'end') return `the fast path ends the answer at byte ${fast.at}, Node reads on`
  if (node.status !== fast.status || node.headAt !== fast.headAt || node.at !== fast.at) return `answer ${fast.status} head end ${fast.headAt} end ${fast.at} for the fast path, ${node.status} ${node.headAt} ${node.at} for Node`
  return undefined
}
