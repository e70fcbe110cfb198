import type { Config } from '../config.js'
import type { Driver } from './driver.js'
import { ProcessDriver } from './process.js'

export type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from './driver.js'

/** The driver LB_DRIVER names, set up from the configuration. */
export function createDriver (config: Config): Driver {
  switch (config.LB_DRIVER) {
    case 'process':
      return new ProcessDriver({ host: config.LB_REPLICA_HOST, startTimeoutMs: config.LB_READY_TIMEOUT_MS })
    case 'docker':
      throw new Error('LB_DRIVER=docker is not available yet')
  }
}
