import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { freePort, tmpDir } from './env.js';
import { stopProcess } from './run-cli.js';

export interface NginxHttps {
  /** `https://127.0.0.1:<port>` */
  baseUrl: string;
  port: number;
  /** Where the access log is written (one line per request: `<status> <ssl_client_verify> <uri>`). */
  accessLog: string;
}

/**
 * The real nginx serving `files` over HTTPS on 127.0.0.1 with `cert`/`key` (PEM files), stopped
 * by PID in teardown. Paths under `/private/` are served only to clients presenting a certificate
 * signed by `clientCa` (403 otherwise).
 */
export async function startNginxHttps(t: ExecutionContext, o: { files: Record<string, Buffer>; cert: string; key: string; clientCa: string }): Promise<NginxHttps> {
  const dir = await tmpDir(t, 'd7y-nginx-');
  const root = join(dir, 'www');
  for (const [path, bytes] of Object.entries(o.files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), bytes);
  }
  // nginx's workers run as another user when started by root: let them read the files.
  await chmod(dir, 0o755);
  for (const path of Object.keys(o.files)) {
    for (let p = join(root, path, '..'); p.startsWith(root); p = join(p, '..')) await chmod(p, 0o755);
    await chmod(join(root, path), 0o644);
  }
  const port = await freePort();
  const accessLog = join(dir, 'access.log');
  await writeFile(join(dir, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  log_format short '$status $ssl_client_verify $uri';
  access_log ${accessLog} short;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${o.cert};
    ssl_certificate_key ${o.key};
    ssl_client_certificate ${o.clientCa};
    ssl_verify_client optional;
    root ${root};
    location /private/ { if ($ssl_client_verify != SUCCESS) { return 403; } }
  }
}
`);
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  t.teardown(() => stopProcess(child));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await new Promise<boolean>((resolve) => {
      import('node:net').then(({ connect }) => {
        const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
      }, () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { baseUrl: `https://127.0.0.1:${port}`, port, accessLog };
}
