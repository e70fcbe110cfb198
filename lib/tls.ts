import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'

/** A certificate (with any chain after it) and its private key, as PEM, for TLS on PORT. */
export interface TlsFiles {
  cert: Buffer
  key: Buffer
}

/** A TLS setting that cannot be used, in words that name the variable (lib/config.ts reports it). */
export class TlsSettingError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TlsSettingError'
  }
}

/** A file's bytes, or a TlsSettingError naming the variable that named it. */
function readSetting (variable: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new TlsSettingError(`${variable} (${path}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/**
 * Reads and checks the PEM files LB_TLS_CERT and LB_TLS_KEY name, as nginx
 * does at start rather than at the first handshake: each must be readable and
 * parse (a certificate, a private key), and the key must be the certificate's.
 * Any failure is a TlsSettingError naming the variable. Neither set: no TLS.
 */
export function loadTlsFiles (certPath: string | undefined, keyPath: string | undefined): TlsFiles | undefined {
  if (certPath === undefined && keyPath === undefined) return undefined
  if (certPath === undefined) throw new TlsSettingError('LB_TLS_KEY is set but LB_TLS_CERT is not: TLS needs both')
  if (keyPath === undefined) throw new TlsSettingError('LB_TLS_CERT is set but LB_TLS_KEY is not: TLS needs both')
  const cert = readSetting('LB_TLS_CERT', certPath)
  const key = readSetting('LB_TLS_KEY', keyPath)
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(cert)
  } catch (err) {
    throw new TlsSettingError(`LB_TLS_CERT (${certPath}) is not a PEM certificate: ${(err as Error).message}`)
  }
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    throw new TlsSettingError(`LB_TLS_KEY (${keyPath}) is not a PEM private key: ${(err as Error).message}`)
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new TlsSettingError(`LB_TLS_KEY (${keyPath}) is not the private key of the certificate in LB_TLS_CERT (${certPath})`)
  }
  return { cert, key }
}
