import { ConfigSchema } from './config.js'
import { VERSION } from './version.js'

/** What the command line asks for instead of starting: text to print and the exit code. */
export interface CommandAnswer {
  text: string
  exitCode: number
  /** stderr for a mistake, stdout for what was asked */
  stream: 'stdout' | 'stderr'
}

/**
 * `node dist/server.js --help` and `--version`; undefined when there are no
 * arguments, and the balancer starts. Settings come from the environment
 * only, so any other argument is a mistake, said in one line.
 */
export function commandLine (args: string[]): CommandAnswer | undefined {
  if (args.length === 0) return undefined
  const [first] = args
  if (args.length === 1 && (first === '--help' || first === '-h')) return { text: help(), exitCode: 0, stream: 'stdout' }
  if (args.length === 1 && (first === '--version' || first === '-v')) return { text: `ringlb ${VERSION}`, exitCode: 0, stream: 'stdout' }
  return { text: `ringlb: unknown argument '${first}' (settings are environment variables: node dist/server.js --help lists them)`, exitCode: 2, stream: 'stderr' }
}

interface SettingSchema {
  default?: unknown
  enum?: string[]
  type?: string
  minimum?: number
  maximum?: number
}

/** How a setting is written: its values when they are few, else its type and bounds. */
function values (schema: SettingSchema): string {
  if (schema.enum !== undefined) return schema.enum.join('|')
  if (schema.type === 'integer' || schema.type === 'number') {
    return `${schema.type === 'integer' ? 'integer' : 'number'}${schema.minimum === undefined ? '' : ` ${schema.minimum}..${schema.maximum ?? ''}`}`
  }
  return schema.type ?? 'string'
}

function help (): string {
  const settings = Object.entries(ConfigSchema.properties as Record<string, SettingSchema>)
  const width = Math.max(...settings.map(([name]) => name.length))
  const rows = settings.map(([name, schema]) => {
    const fallback = schema.default === undefined ? '(unset)' : schema.default === '' ? '(empty)' : String(schema.default)
    return `  ${name.padEnd(width)}  ${fallback.padEnd(20)}  ${values(schema)}`
  })
  return [
    `ringlb ${VERSION}: a consistent-hashing HTTP load balancer that runs and heals its own replicas`,
    '',
    'Usage: node dist/server.js          start (npm start builds first)',
    '       node dist/server.js --help   this text',
    '       node dist/server.js --version',
    '',
    'Settings, read from the environment (the README\'s Configuration table says what each does):',
    '',
    `  ${'variable'.padEnd(width)}  ${'default'.padEnd(20)}  values`,
    ...rows,
    '',
    'SIGTERM or SIGINT: stop accepting, finish in-flight requests, stop process replicas (containers are kept).'
  ].join('\n')
}
