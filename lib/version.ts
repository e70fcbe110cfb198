import { readFileSync } from 'node:fs'

/**
 * ringlb's version, from its package.json: one folder up from lib/ when run
 * from source, two from dist/lib/ when built (the image keeps package.json
 * beside dist/ too).
 */
function readVersion (): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'ringlb' && typeof pkg.version === 'string') return pkg.version
    } catch {}
  }
  return 'unknown'
}

export const VERSION = readVersion()
