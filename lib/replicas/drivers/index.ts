import { type Config, swarmConstraints } from '../../config.js'
import type { Driver } from './driver.js'
import { DockerDriver } from './docker.js'
import { ProcessDriver } from './process.js'
import { StaticDriver } from './static.js'
import { SwarmDriver } from './swarm.js'

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
    case 'swarm':
      return new SwarmDriver({
        socketPath: config.LB_DOCKER_SOCKET,
        image: config.LB_IMAGE,
        network: config.LB_NETWORK,
        instance: config.LB_INSTANCE,
        namePrefix: config.LB_CONTAINER_PREFIX,
        replicaImage: config.LB_REPLICA_IMAGE,
        replicaPort: config.LB_REPLICA_PORT,
        replicaEnv: config.LB_REPLICA_ENV,
        constraints: swarmConstraints(config),
        readyTimeoutMs: config.LB_READY_TIMEOUT_MS,
        // every balancer sees a leaving replica's 503 at its next heartbeat; the misses' worth of periods again as slack for a loaded machine
        lameDuckMs: config.LB_HEARTBEAT_MS * (config.LB_HEARTBEAT_MISSES + 1) + config.LB_HEARTBEAT_TIMEOUT_MS,
        pollMs: config.LB_SWARM_POLL_MS
      })
    case 'static':
      return new StaticDriver(config.LB_UPSTREAMS)
  }
}
