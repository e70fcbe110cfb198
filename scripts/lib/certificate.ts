import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestCertificate {
  /** the folder holding the files, removed by `remove` */
  dir: string
  /** PEM files: a self-signed certificate for localhost and 127.0.0.1, and its key */
  cert: string
  key: string
  /** a key of another pair, which does not match `cert` */
  otherKey: string
  /** the certificate's PEM text, for a client that trusts it */
  certPem: () => string
  remove: () => void
}

/**
 * A self-signed certificate made with Debian's openssl into a fresh temporary
 * folder, valid for a day for `localhost` and `127.0.0.1`: the TLS material of
 * a test or a bench run (no certificate is checked in).
 */
export function makeCertificate (): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'ringlb-tls-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  const otherKey = join(dir, 'other-key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' })
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', otherKey], { stdio: 'pipe' })
  return { dir, cert, key, otherKey, certPem: () => readFileSync(cert, 'utf8'), remove: () => { rmSync(dir, { recursive: true, force: true }) } }
}
