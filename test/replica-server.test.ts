import { fork } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'

const replica = new URL('../dist/replica/server.js', import.meta.url)

t.test('a process replica whose balancer goes away at any moment of its start exits 0 without a word', async t => {
  // from before it runs a line to after it has reported its port: the channel closes under it at each
  for (const delayMs of [0, 20, 40, 80, 160, 320]) {
    const child = fork(replica, [], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const exited = once(child, 'exit')
    await sleep(delayMs)
    if (child.connected) child.disconnect()
    const [code] = await exited
    t.equal(code, 0, `exit code, channel closed after ${delayMs} ms`)
    t.equal(output, '', `nothing printed, channel closed after ${delayMs} ms`)
  }
})
