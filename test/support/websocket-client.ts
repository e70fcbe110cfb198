import WebSocket from 'ws'

/** A WebSocket to the balancer's replicas' /echo, with what its 101 said and how it closed. */
export interface EchoClient {
  socket: WebSocket
  /** x-ringlb-replica: the replica the balancer says it reached */
  replica: string
  /** x-server-id: the numeric id the replica itself gives */
  serverId: string
  /** the close code and reason, once closed */
  closed: Promise<{ code: number, reason: string }>
  /** sends `text` and resolves with the echo */
  echo: (text: string) => Promise<string>
}

/** Opens a WebSocket to `base`/echo?id=`key` through the balancer (wss with the test's own certificate). */
export async function openEcho (base: string, key: number | string): Promise<EchoClient> {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/echo?id=${key}`, { rejectUnauthorized: false })
  const headers = new Promise<Record<string, string | string[] | undefined>>(resolve => socket.once('upgrade', response => { resolve(response.headers) }))
  const closed = new Promise<{ code: number, reason: string }>(resolve => socket.once('close', (code, reason) => { resolve({ code, reason: reason.toString() }) }))
  await new Promise((resolve, reject) => { socket.once('open', resolve).once('error', reject) })
  const seen = await headers
  return {
    socket,
    replica: String(seen['x-ringlb-replica']),
    serverId: String(seen['x-server-id']),
    closed,
    echo: async (text) => await new Promise<string>((resolve, reject) => {
      socket.once('message', data => { resolve(data.toString()) })
      socket.send(text, error => { if (error !== undefined && error !== null) reject(error) })
    })
  }
}
