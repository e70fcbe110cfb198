import { type Static, Type } from '@sinclair/typebox'
import envSchema from 'env-schema'
import { DEFAULT_HASH_KEY, type HashKeySource, parseHashKey } from './proxy/key-sources.js'
import { type Upstream, parseUpstreams } from './replicas/upstreams.js'
import type { RingOptions } from './rings/index.js'
import { isPrime } from './rings/maglev.js'
import { type TlsFiles, TlsSettingError, loadTlsFiles } from './tls.js'

/** A string setting with a fixed set of values (one readable error, unlike a union of literals). */
function oneOf<const T extends string> (values: readonly T[], defaultValue?: T) {
  return Type.Unsafe<T>({ type: 'string', enum: values, ...(defaultValue === undefined ? {} : { default: defaultValue }) })
}

/**
 * Every setting ringlb reads, from the environment, validated once at start.
 * Defaults are the contract's (SPEC §5); the README lists them all.
 */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LB_DRIVER: oneOf(['process', 'docker', 'swarm', 'static'], 'process'),
  LB_REPLICAS: Type.Integer({ minimum: 0, default: 3 }),
  LB_MAX_REPLICAS: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  LB_HASH: oneOf(['maglev', 'ring', 'assignment', 'round-robin'], 'maglev'),
  LB_HASH_KEY: Type.String({ default: DEFAULT_HASH_KEY }),
  LB_SLOTS: Type.Integer({ minimum: 2, maximum: 1 << 20, default: 512 }),
  LB_VNODES: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  LB_MAGLEV_TABLE: Type.Integer({ minimum: 3, maximum: 10_000_019, default: 65537 }),
  LB_RING_VNODES: Type.Integer({ minimum: 160, maximum: 4096, multipleOf: 4, default: 160 }),
  LB_BALANCE_FACTOR: Type.Number({ minimum: 0, default: 0 }),
  LB_HEALTH_PATH: Type.String({ pattern: '^/[\\x21-\\x7e]*$', default: '/heartbeat' }),
  LB_HEARTBEAT_MS: Type.Integer({ minimum: 50, maximum: 600_000, default: 1000 }),
  LB_HEARTBEAT_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  LB_HEARTBEAT_MISSES: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
  LB_READY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 15_000 }),
  LB_DRAIN_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 10_000 }),
  LB_PROXY_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  LB_BODY_LIMIT: Type.Integer({ minimum: 1, maximum: 1 << 30, default: 1_048_576 }),
  LB_ACCESS_LOG: Type.Boolean({ default: false }),
  LB_FAST_PATH: Type.Boolean({ default: true }),
  LB_WORKERS: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  LB_ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  LB_INSTANCE: Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$', default: 'ringlb' }),
  LB_REPLICA_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  LB_IMAGE: Type.String({ minLength: 1, default: 'ringlb:latest' }),
  LB_REPLICA_COMMAND: Type.Optional(Type.String({ minLength: 1 })),
  LB_REPLICA_IMAGE: Type.Optional(Type.String({ minLength: 1 })),
  LB_REPLICA_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 5000 }),
  LB_REPLICA_ENV: Type.Optional(Type.String()),
  LB_UPSTREAMS: Type.Optional(Type.String()),
  LB_NETWORK: Type.String({ minLength: 1, default: 'host' }),
  LB_DOCKER_SOCKET: Type.String({ minLength: 1, default: '/var/run/docker.sock' }),
  LB_SWARM_POLL_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 500 }),
  LB_SWARM_CONSTRAINTS: Type.String({ default: '' }),
  LB_CONTAINER_PREFIX: Type.String({ pattern: '^[a-zA-Z0-9_.-]{0,30}$', default: '' }),
  LB_TLS_CERT: Type.Optional(Type.String({ minLength: 1 })),
  LB_TLS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  LB_UPGRADE_PROTOCOLS: Type.String({ default: 'websocket' }),
  LB_CLOSE_MOVED_TUNNELS: Type.Boolean({ default: true }),
  LB_MOVED_TUNNEL_GRACE_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 1000 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info')
})

export type RawConfig = Static<typeof ConfigSchema>

export interface Config extends Omit<RawConfig, 'LB_REPLICA_ENV' | 'LB_UPSTREAMS' | 'LB_HASH_KEY' | 'LB_UPGRADE_PROTOCOLS'> {
  /** where a request's key comes from, in order (parsed LB_HASH_KEY) */
  LB_HASH_KEY: HashKeySource[]
  /** virtual servers per replica for `assignment`: LB_VNODES, else log2 of the slot count */
  LB_VNODES: number
  /** extra environment for every replica, parsed from its JSON object (empty when unset) */
  LB_REPLICA_ENV: Record<string, string>
  /** `static`: the servers to balance, parsed (empty with other drivers) */
  LB_UPSTREAMS: Upstream[]
  /** the `Upgrade` protocols tunnelled to replicas, lower case (never h2c) */
  LB_UPGRADE_PROTOCOLS: string[]
  /** the certificate and key read from LB_TLS_CERT and LB_TLS_KEY; undefined without TLS */
  tls: TlsFiles | undefined
}

export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** env-schema's message, without its `env/` prefix and with the allowed values spelled out. */
function explain (message: string): string {
  const text = message.replace(/^env\/?/, '')
  const name = /^(\w+) must be equal to one of the allowed values/.exec(text)?.[1]
  const allowed = (ConfigSchema.properties as Record<string, { enum?: string[] }>)[name ?? '']?.enum
  return allowed === undefined ? text : `${name} must be one of ${allowed.join(', ')}`
}

/** A setting parsed beyond its schema; a parse error becomes a ConfigError naming the variable. */
function parseSetting<T> (name: string, text: string | undefined, parse: (text: string) => T, unset: T): T {
  if (text === undefined || text.trim() === '') return unset
  try {
    return parse(text)
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${name} ${(err as Error).message}`)
  }
}

/** LB_REPLICA_ENV: a JSON object whose values are all strings, as an environment is. */
function parseReplicaEnv (text: string): Record<string, string> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new Error(`is not valid JSON (${(err as Error).message})`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be a JSON object of strings, e.g. {"CACHE_MB":"64"}')
  for (const [key, item] of Object.entries(value)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`has '${key}', which is not an environment variable name`)
    if (typeof item !== 'string') throw new Error(`has ${key}=${JSON.stringify(item)}: every value must be a string`)
  }
  return value as Record<string, string>
}

/** An HTTP token (RFC 9110 §5.6.2), as a protocol name in `Upgrade` is. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/**
 * LB_UPGRADE_PROTOCOLS as a list: comma-separated protocol names (a version
 * after `/` is not part of the name), matched without regard to case. `h2c`
 * is refused: a balancer that tunnelled it would hand the replica a
 * connection whose later requests it never sees (request smuggling).
 */
function upgradeProtocols (value: string): string[] {
  const names = value.split(',').map(name => name.trim().toLowerCase()).filter(name => name !== '')
  for (const name of names) {
    if (!TOKEN.test(name)) throw new ConfigError(`invalid configuration: LB_UPGRADE_PROTOCOLS has '${name}', which is not a protocol name`)
    if (name === 'h2c') throw new ConfigError('invalid configuration: LB_UPGRADE_PROTOCOLS may not list h2c: an h2c tunnel would carry requests the balancer never routes')
  }
  return [...new Set(names)]
}

/** Reads and checks the configuration; a bad value throws a ConfigError naming the variable. */
export function loadConfig (env: Record<string, string | undefined>): Config {
  let raw: RawConfig
  try {
    raw = envSchema<RawConfig>({ schema: ConfigSchema, data: env, dotenv: false })
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${explain((err as Error).message)}`)
  }
  let tls
  try {
    tls = loadTlsFiles(raw.LB_TLS_CERT, raw.LB_TLS_KEY)
  } catch (err) {
    if (!(err instanceof TlsSettingError)) throw err
    throw new ConfigError(`invalid configuration: ${err.message}`)
  }
  const config: Config = {
    ...raw,
    LB_VNODES: raw.LB_VNODES ?? Math.floor(Math.log2(raw.LB_SLOTS)),
    LB_HASH_KEY: parseSetting('LB_HASH_KEY', raw.LB_HASH_KEY, parseHashKey, parseHashKey(DEFAULT_HASH_KEY)),
    LB_REPLICA_ENV: parseSetting('LB_REPLICA_ENV', raw.LB_REPLICA_ENV, parseReplicaEnv, {}),
    LB_UPSTREAMS: parseSetting('LB_UPSTREAMS', raw.LB_UPSTREAMS, parseUpstreams, []),
    LB_UPGRADE_PROTOCOLS: upgradeProtocols(raw.LB_UPGRADE_PROTOCOLS),
    tls
  }
  if (config.LB_DRIVER === 'static' && config.LB_UPSTREAMS.length === 0) {
    throw new ConfigError('invalid configuration: LB_DRIVER=static needs LB_UPSTREAMS, the servers to balance (name=http://host:port,...)')
  }
  if (config.LB_DRIVER !== 'static' && config.LB_UPSTREAMS.length > 0) {
    throw new ConfigError(`invalid configuration: LB_UPSTREAMS is only read with LB_DRIVER=static (LB_DRIVER is ${config.LB_DRIVER})`)
  }
  if (config.LB_UPSTREAMS.length > config.LB_MAX_REPLICAS) {
    throw new ConfigError(`invalid configuration: LB_UPSTREAMS names ${config.LB_UPSTREAMS.length} servers, above LB_MAX_REPLICAS (${config.LB_MAX_REPLICAS})`)
  }
  if (config.LB_REPLICAS > config.LB_MAX_REPLICAS) {
    throw new ConfigError(`invalid configuration: LB_REPLICAS (${config.LB_REPLICAS}) is above LB_MAX_REPLICAS (${config.LB_MAX_REPLICAS})`)
  }
  if (config.LB_DRIVER === 'swarm' && config.LB_NETWORK === 'host') {
    throw new ConfigError('invalid configuration: LB_DRIVER=swarm needs LB_NETWORK to name an attachable overlay network, not host')
  }
  if (!isPrime(config.LB_MAGLEV_TABLE)) {
    throw new ConfigError(`invalid configuration: LB_MAGLEV_TABLE must be a prime number, got ${config.LB_MAGLEV_TABLE}`)
  }
  if (config.LB_HASH === 'assignment' && config.LB_MAX_REPLICAS * config.LB_VNODES > config.LB_SLOTS) {
    throw new ConfigError(`invalid configuration: LB_SLOTS (${config.LB_SLOTS}) cannot hold LB_MAX_REPLICAS (${config.LB_MAX_REPLICAS}) × LB_VNODES (${config.LB_VNODES}) virtual servers`)
  }
  return config
}

/** LB_SWARM_CONSTRAINTS as Swarm placement constraints: comma-separated, e.g. `node.role==worker,node.labels.zone==a`. */
export function swarmConstraints (config: Config): string[] {
  return config.LB_SWARM_CONSTRAINTS.split(',').map(c => c.trim()).filter(c => c !== '')
}

/** The ring the settings ask for: the primary's, and each cluster worker's copy of it. */
export function ringOptions (config: Config): RingOptions {
  return {
    scheme: config.LB_HASH,
    slots: config.LB_SLOTS,
    vnodes: config.LB_VNODES,
    tableSize: config.LB_MAGLEV_TABLE,
    ringVnodes: config.LB_RING_VNODES
  }
}
