import { ConfigError } from './config.js'

/** The settings a failure to listen is about. */
export interface ListenSettings {
  PORT: number
  HOST: string
  LB_ADMIN_PORT?: number
}

interface SystemError {
  code?: string
  syscall?: string
  port?: number
  hostname?: string
  message: string
}

/**
 * Why the balancer could not start, as the one line it prints on stderr
 * (after `ringlb: `): what is wrong, then what to do in parentheses. The
 * replica drivers' and the manager's messages carry their own advice already.
 */
export function startUpFailure (err: unknown, settings: ListenSettings): string {
  if (err instanceof ConfigError) return err.message
  const e = err as SystemError
  const [name, port] = e.port !== undefined && e.port === settings.LB_ADMIN_PORT
    ? ['LB_ADMIN_PORT', settings.LB_ADMIN_PORT]
    : ['PORT', settings.PORT]
  switch (e.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${settings.HOST} is in use by another program (set ${name} to a free port, or stop that program)`
    case 'EACCES':
      return `not allowed to listen on port ${port} (set ${name} to 1024 or above, or give node the right to bind low ports)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `HOST '${settings.HOST}' is not an address or a name this machine can resolve (set HOST to an address of this machine, e.g. 0.0.0.0 or 127.0.0.1)`
    case 'EADDRNOTAVAIL':
      return `HOST '${settings.HOST}' is not an address of this machine (set HOST to one of its addresses, e.g. 0.0.0.0 or 127.0.0.1)`
  }
  const message = e.message ?? String(err)
  return message.includes('(') ? message : `${message} (the log above may say more)`
}
