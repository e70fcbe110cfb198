import { Type } from '@sinclair/typebox'
import { HOSTNAME_PATTERN } from '../lib/names.js'

export const ErrorBody = Type.Object({
  message: Type.String({ description: 'what went wrong, starting with "<Error> "' }),
  status: Type.Literal('failure')
}, { $id: 'ErrorBody', description: 'every error the balancer itself answers' })

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

export const MapQuery = Type.Object({
  id: Type.String({ description: 'the request id, an integer' })
})

export const Mapping = Type.Object({
  request_id: Type.Integer(),
  mapped_server: Type.Integer({ description: 'numeric server id of the replica' }),
  hostname: Type.String()
})
