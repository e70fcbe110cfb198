import { LbError } from '../../errors.js'

/** What docker-modem rejects with: an HTTP answer from the engine, or a socket error. */
interface EngineFailure {
  message: string
  statusCode?: number
  code?: string
  reason?: string
  json?: { message?: string } | null
}

/** Socket errors that mean no engine answers at the configured address. */
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'])

export function isUnreachable (err: unknown): boolean {
  const code = (err as EngineFailure | null)?.code
  return typeof code === 'string' && UNREACHABLE.has(code)
}

/** The engine's own words for a failed call, without docker-modem's "(HTTP code N) ..." prefix. */
export function engineReason (err: unknown): string {
  const failure = err as EngineFailure
  return failure.json?.message ?? failure.message
}

export function statusOf (err: unknown): number | undefined {
  return (err as EngineFailure | null)?.statusCode
}

/**
 * An engine failure as the balancer reports it: 503 when no engine answers
 * (the socket is missing or refused, or the call timed out), 502 when the engine
 * answered with an error the caller did not expect.
 */
export function engineError (err: unknown, action: string): LbError {
  if (err instanceof LbError) return err
  if (isUnreachable(err)) {
    return new LbError(503, `Docker engine unreachable while trying to ${action}: ${(err as Error).message} (start the engine, or set LB_DOCKER_SOCKET to its socket; LB_DRIVER=process needs none)`, { cause: err })
  }
  return new LbError(502, `Docker engine could not ${action}: ${engineReason(err)}`, { cause: err })
}
