import { type ChildProcess, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort } from '../../lib/free-port.js'
import { startForeground } from '../lib/processes.js'

/** A binary on PATH or in /usr/sbin (where Debian puts nginx and haproxy, off a non-root PATH), else undefined. */
export function findBinary (name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim()
  if (found !== '') return found
  return existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : undefined
}

export interface Upstream {
  /** the command and arguments that run it in the foreground */
  command: string
  args: string[]
}

/** A certificate and key (PEM files) to serve TLS with. */
export interface TlsPaths {
  cert: string
  key: string
}

/**
 * nginx with one worker, consistent hashing on the `id` query parameter
 * (ketama, as ringlb's `ring` scheme), keep-alive connections to the replicas
 * like ringlb's pools, and no access log (ringlb writes none per request either).
 * /echo passes WebSocket upgrades through (nginx's documented recipe). With
 * `tls`, it serves TLS with ALPN h2 and http/1.1, as ringlb does.
 */
export async function nginx (binary: string, dir: string, port: number, replicaPorts: number[], tls?: TlsPaths): Promise<Upstream> {
  const name = tls === undefined ? 'nginx' : 'nginx-tls'
  const conf = join(dir, `${name}.conf`)
  await writeFile(conf, `worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}-error.log`)} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream replicas {
    hash $arg_id consistent;
${replicaPorts.map(p => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 128;
  }
  server {
${tls === undefined
    ? `    listen 127.0.0.1:${port};`
    : `    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};`}
    location / {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /echo {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
    }
  }
}
`)
  return { command: binary, args: ['-p', dir, '-c', conf, '-e', join(dir, `${name}-error.log`)] }
}

/**
 * HAProxy with one thread (as nginx has one worker), `balance url_param id`
 * with consistent hashing, and idle server connections reused across clients.
 */
export async function haproxy (binary: string, dir: string, port: number, replicaPorts: number[]): Promise<Upstream> {
  const conf = join(dir, 'haproxy.cfg')
  await writeFile(conf, `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend bench
  bind 127.0.0.1:${port}
  default_backend replicas
backend replicas
  balance url_param id
  hash-type consistent
${replicaPorts.map((p, i) => `  server r${i} 127.0.0.1:${p}`).join('\n')}
`)
  return { command: binary, args: ['-db', '-f', conf] }
}

/**
 * nginx or HAProxy over the replicas on `replicaPorts`, configured in `dir`,
 * listening on a free loopback port (nginx: with TLS when given `tls`);
 * undefined (with a note) when not installed.
 */
export async function startReference (name: 'nginx' | 'haproxy', dir: string, replicaPorts: number[], tls?: TlsPaths): Promise<{ child: ChildProcess, url: string } | undefined> {
  const binary = findBinary(name)
  if (binary === undefined) {
    console.log(`note: ${name} is not installed; skipped (Debian: apt-get install -y ${name === 'nginx' ? 'nginx-light' : 'haproxy'})`)
    return undefined
  }
  const port = await freePort('127.0.0.1')
  const upstream = name === 'nginx' ? await nginx(binary, dir, port, replicaPorts, tls) : await haproxy(binary, dir, port, replicaPorts)
  const secure = name === 'nginx' && tls !== undefined
  const child = await startForeground(upstream.command, upstream.args, port, secure)
  return { child, url: `${secure ? 'https' : 'http'}://127.0.0.1:${port}` }
}
