import { Type } from '@sinclair/typebox'
import { HOSTNAME_PATTERN } from '../lib/replicas/names.js'

export const ErrorBody = Type.Object({
  message: Type.String({ description: 'what went wrong, starting with "<Error> "' }),
  status: Type.Literal('failure')
}, { $id: 'ErrorBody', description: 'every error the balancer itself answers' })

/** ErrorBody described for one status of one route, so the OpenAPI document says when that status happens. */
export const failure = (description: string) => Type.Object(ErrorBody.properties, { description })

export const ReplicaSet = Type.Object({
  N: Type.Integer({ minimum: 0, description: 'how many healthy replicas are in the ring' }),
  replicas: Type.Array(Type.String(), { description: 'their hostnames, by numeric server id' })
})

export const ChangeResult = Type.Object({
  message: ReplicaSet,
  status: Type.Literal('successful')
})

/** The body of /add and /rm. The upper bound on n is the configured maximum. */
export function changeBody (maxReplicas: number) {
  return Type.Object({
    n: Type.Integer({ minimum: 1, maximum: maxReplicas, description: 'how many replicas to add or remove' }),
    hostnames: Type.Optional(Type.Array(Type.String({ description: `a container name: ${HOSTNAME_PATTERN}` }), {
      description: 'names for (some of) them, at most n; the rest are generated (server-<id>) or, for /rm, chosen highest id first'
    }))
  })
}

/** The body of /add: /rm's, and the origins of servers ringlb does not run. */
export function addBody (maxReplicas: number) {
  return Type.Object({
    ...changeBody(maxReplicas).properties,
    // any JSON here: the replica manager checks each entry and names the faulty one
    urls: Type.Optional(Type.Array(Type.Unknown(), {
      description: 'LB_DRIVER=static only, and required there: one http://host:port per new server, each answering LB_HEALTH_PATH'
    }))
  })
}

export const MapQuery = Type.Object({
  id: Type.Optional(Type.String({ description: 'the request id, an integer' })),
  key: Type.Optional(Type.String({ description: 'a key as LB_HASH_KEY\'s sources give it: any text (an integer is itself, other text is hashed)' }))
})

const Owner = {
  mapped_server: Type.Integer({ description: 'numeric server id of the replica' }),
  hostname: Type.String()
}

export const Mapping = Type.Union([
  Type.Object({ request_id: Type.Integer(), ...Owner }, { description: '?id=' }),
  Type.Object({ key: Type.String(), ...Owner }, { description: '?key=' })
])

const Counts = {
  requests: Type.Integer({ minimum: 0, description: 'proxied requests answered by this replica' }),
  errors: Type.Integer({ minimum: 0, description: 'of those, answered 5xx; plus attempts that failed here and were retried' }),
  retries: Type.Integer({ minimum: 0, description: 'requests sent on to the next replica because this one did not answer' }),
  respawns: Type.Integer({ minimum: 0, description: 'times the replica was replaced after failing' }),
  heartbeat_failures: Type.Integer({ minimum: 0, description: 'heartbeats it failed to answer in time' }),
  tunnels_open: Type.Integer({ minimum: 0, description: 'tunnels (WebSocket) open to it now' }),
  tunnels_moved: Type.Integer({ minimum: 0, description: 'tunnels the balancer closed because a ring change moved their key to another replica' }),
  tunnel_bytes_to_replica: Type.Integer({ minimum: 0, description: 'bytes its tunnels carried from clients to it' }),
  tunnel_bytes_to_client: Type.Integer({ minimum: 0, description: 'bytes its tunnels carried from it to clients' })
}

export const Stats = Type.Object({
  time: Type.Integer({ description: 'when these counts were read, ms since the epoch: rates are deltas over it' }),
  scheme: Type.String({ description: 'the hash scheme (LB_HASH)' }),
  ring_size: Type.Integer({ minimum: 0, description: 'replicas in the ring' }),
  replicas: Type.Array(Type.Object({
    hostname: Type.String(),
    id: Type.Integer({ description: 'numeric server id' }),
    state: Type.Union(['starting', 'healthy', 'draining', 'failed'].map(s => Type.Literal(s))),
    share: Type.Number({ description: 'fraction of the key space it owns (0 when out of the ring)' }),
    in_flight: Type.Integer({ minimum: 0, description: 'requests it is answering now' }),
    ...Counts
  }), { description: 'every replica the balancer runs, by numeric server id' }),
  totals: Type.Object(Counts, { description: 'sums since start, replicas removed since included' }),
  workers: Type.Array(Type.Object({
    pid: Type.Integer(),
    requests: Type.Integer({ minimum: 0, description: 'proxied requests it has answered' }),
    in_flight: Type.Integer({ minimum: 0 })
  }), { description: 'a clustered balancer\'s workers (LB_WORKERS > 1) that answered in time; empty otherwise' })
})

export const RingLayout = Type.Object({
  scheme: Type.String(),
  size: Type.Integer({ minimum: 0, description: 'replicas in the ring' }),
  digest: Type.String({ description: 'a short hash of the scheme, its parameters and the ring\'s members and arcs: equal on two balancers exactly when they route every key alike' }),
  segments: Type.Array(Type.Object({
    start: Type.Number({ description: 'where the arc starts, as a fraction of the key space' }),
    length: Type.Number({ description: 'its length, as a fraction of the key space' }),
    hostname: Type.String({ description: 'the replica that owns it' })
  }), { description: 'the key space in order, in at most 720 arcs: past that, each arc is the majority owner of 1/720 of the space' })
})
