import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { IMAGE, SOCKET, docker, underCI } from './docker-engine.js'

/*
 * Run once by tap before the suites (package.json, tap.before): the Docker
 * suites start containers of the shared image, so it is built from the
 * current sources first; with the build cache that is quick when nothing changed.
 * Without an engine there is nothing to build: the suites then skip, or fail under CI.
 * A failed build stops the run under CI only.
 */
try {
  await docker.ping()
} catch (err) {
  console.log(`# no Docker engine at ${SOCKET} (${(err as Error).message}): not building ${IMAGE}`)
  process.exit(0)
}

const started = Date.now()
try {
  await promisify(execFile)('make', ['-s', 'build', `RINGLB_IMAGE=${IMAGE}`], { cwd: fileURLToPath(new URL('..', import.meta.url)), maxBuffer: 64 << 20 })
} catch (err) {
  const { stdout, stderr } = err as { stdout?: string, stderr?: string }
  console.error(`make build failed:\n${stdout ?? ''}${stderr ?? ''}`)
  // under CI that fails the run; elsewhere the other suites still run
  process.exit(underCI() ? 1 : 0)
}
console.log(`# ${IMAGE} built from the current sources in ${((Date.now() - started) / 1000).toFixed(1)} s`)
