import fp from 'fastify-plugin'
import { type Config, loadConfig } from '../lib/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface ConfigPluginOptions {
  /** a configuration already read (the server entry reads it first, for its logger and port) */
  config?: Config
  /** where to read settings from otherwise: the process environment unless a test passes its own */
  env?: Record<string, string | undefined>
}

/** Reads the configuration once and hangs it on the instance; nothing else reads the environment. */
export default fp<ConfigPluginOptions>(async (app, options) => {
  app.decorate('config', options.config ?? loadConfig(options.env ?? process.env))
}, { name: 'config' })
