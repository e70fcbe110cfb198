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

/** A proxied request's failure, in the same words on the proxy plugin's path and the fast path. */
export const noAnswerMessage = (hostname: string, code: string): string => `replica ${hostname} did not answer (${code})`
export const badAnswerMessage = (hostname: string, reason: string): string => `replica ${hostname} failed: ${reason}`
