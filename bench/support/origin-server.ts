import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inHost, type LabHost } from './net-lab.js';
import { run, startProcess, waitUntil, type BenchProcess } from './processes.js';
import type { Teardown } from './teardown.js';

/**
 * nginx (sendfile, 2 workers) serving `root` on `host.ip:port`, in the host's namespace, with
 * an access log of `method status bytes` lines only when `accessLog` is given; stopped by PID at
 * teardown. Resolves once a HEAD of `probePath` answers.
 */
export async function startOrigin(teardown: Teardown, host: LabHost, root: string, port: number, workDir: string,
  probePath: string, accessLog?: string): Promise<BenchProcess> {
  const prefix = join(workDir, 'nginx');
  await mkdir(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  await writeFile(conf, [
    'user root;', 'worker_processes 2;', 'daemon off;', `pid ${join(prefix, 'nginx.pid')};`,
    `error_log ${join(prefix, 'logs', 'error.log')} warn;`, 'events { worker_connections 1024; }',
    'http {', "  log_format bytes '$request_method $status $body_bytes_sent';",
    accessLog ? `  access_log ${accessLog} bytes;` : '  access_log off;', '  sendfile on;', '  tcp_nopush on;', '  keepalive_timeout 30;',
    `  client_body_temp_path ${prefix}/tmp;`, `  proxy_temp_path ${prefix}/tmp;`, `  fastcgi_temp_path ${prefix}/tmp;`,
    `  uwsgi_temp_path ${prefix}/tmp;`, `  scgi_temp_path ${prefix}/tmp;`,
    `  server { listen ${host.ip}:${port}; root ${root}; }`, '}', '',
  ].join('\n'));
  const [cmd, args] = inHost(host, 'nginx', ['-c', conf, '-p', prefix]);
  const proc = startProcess(teardown, 'nginx', cmd, args, { logFile: join(prefix, 'logs', 'stdout.log') });
  const url = `http://${host.ip}:${port}${probePath}`;
  await waitUntil(`nginx answering at ${url}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`nginx exited early; see ${prefix}/logs`);
    return probe(host, url);
  }, 15_000, 100);
  return proc;
}

async function probe(host: LabHost, url: string): Promise<boolean> {
  const [cmd, args] = inHost(host, 'curl', ['-sfI', '--max-time', '2', url]);
  return run(cmd, args, 5_000).then(() => true, () => false);
}

/** Body bytes the origin sent for GET requests, from an access log written by startOrigin. */
export async function originBytesServed(accessLog: string): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(accessLog, 'utf8').catch(() => '');
  return text.split('\n').reduce((sum, line) => {
    const [method, , bytes] = line.split(' ');
    return method === 'GET' ? sum + Number(bytes ?? 0) : sum;
  }, 0);
}
