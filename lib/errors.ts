import { STATUS_CODES } from 'node:http'

/**
 * An error the balancer reports to its client: the HTTP status and a message in
 * plain words. The app's error handler turns it into the contract's body
 * `{"message": "<Error> ...", "status": "failure"}`.
 */
export class LbError extends Error {
  readonly statusCode: number

  constructor (statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LbError'
    this.statusCode = statusCode
  }
}

export const badRequest = (message: string): LbError => new LbError(400, message)
export const notFound = (message: string): LbError => new LbError(404, message)
export const conflict = (message: string): LbError => new LbError(409, message)
export const unavailable = (message: string, cause?: unknown): LbError => new LbError(503, message, { cause })

/** A proxied request's failure, in the same words on both transports (proxy/lifecycle.ts). */
export const noAnswerMessage = (hostname: string, code: string): string => `replica ${hostname} did not answer (${code})`
export const badAnswerMessage = (hostname: string, reason: string): string => `replica ${hostname} failed: ${reason}`

/**
 * A whole HTTP/1.1 answer in the contract's error shape, written on a socket
 * by code that has no HTTP server response to send it through: `headers` are
 * extra header lines; a HEAD's answer has the length but not the body.
 */
export function errorAnswer (statusCode: number, message: string, headers: string[], method?: string): string {
  const body = JSON.stringify({ message: `<Error> ${message}`, status: 'failure' })
  let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
  for (const line of headers) head += `${line}\r\n`
  return method === 'HEAD' ? `${head}\r\n` : `${head}\r\n${body}`
}
