import { once } from 'node:events'
import { type AddressInfo, createServer } from 'node:net'

/** A TCP port on `host` that nothing listens on right now (the kernel's pick, released at once). */
export async function freePort (host: string): Promise<number> {
  const server = createServer()
  server.listen(0, host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}
