import type { Config } from '../../config.js'
import type { Driver } from './driver.js'
import { DockerDriver } from './docker.js'
import { ProcessDriver } from './process.js'
import { StaticDriver } from './static.js'

export type { Driver, ReplicaExit, ReplicaHandle, ReplicaSpec } from './driver.js'

/** The driver LB_DRIVER names, set up from the configuration. */
export function createDriver (config: Config): Driver {
  switch (config.LB_DRIVER) {
    case 'process':
      return new ProcessDriver({
        host: config.LB_REPLICA_HOST,
        startTimeoutMs: config.LB_READY_TIMEOUT_MS,
        command: config.LB_REPLICA_COMMAND,
        env: config.LB_REPLICA_ENV
      })
    case 'docker':
      return new DockerDriver({
        socketPath: config.LB_DOCKER_SOCKET,
        image: config.LB_IMAGE,
        network: config.LB_NETWORK,
        instance: config.LB_INSTANCE,
        namePrefix: config.LB_CONTAINER_PREFIX,
        replicaHost: config.LB_REPLICA_HOST,
        replicaImage: config.LB_REPLICA_IMAGE,
        replicaPort: config.LB_REPLICA_PORT,
        replicaEnv: config.LB_REPLICA_ENV
      })
    case 'static':
      return new StaticDriver(config.LB_UPSTREAMS)
  }
}
