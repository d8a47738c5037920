import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';
import type { ExecutionContext } from 'ava';

export interface StaticRepoServerOptions {
  /** The directory served at `/`. */
  dir: string;
  /** Basic-auth users (username → password); every request must carry one when set. */
  users?: Record<string, string>;
}

export interface StaticRepoServer {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** Requests per path received so far. */
  readonly requests: Map<string, number>;
}

/**
 * A file server for package repositories (Maven, YUM) on 127.0.0.1, like a web server with
 * autoindex: GET/HEAD of files with single `bytes=` ranges, an HTML index for directories (paths
 * ending in `/`), optional basic auth (401 with a Basic challenge). Closed in teardown.
 */
export async function startStaticRepoServer(t: ExecutionContext, opts: StaticRepoServerOptions): Promise<StaticRepoServer> {
  const root = resolve(opts.dir);
  const requests = new Map<string, number>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) res.writeHead(500); res.end(); });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (opts.users) {
      const [user, ...rest] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':');
      if (!req.headers.authorization?.startsWith('Basic ') || user === undefined || opts.users[user] !== rest.join(':')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="repo"' }).end();
        return;
      }
    }
    const full = resolve(root, `.${path}`);
    if (full !== root && !full.startsWith(root + sep)) return void res.writeHead(404).end();
    const st = await stat(full).catch(() => undefined);
    if (st?.isDirectory() && path.endsWith('/')) {
      const names = (await readdir(full, { withFileTypes: true })).map((d) => (d.isDirectory() ? `${d.name}/` : d.name)).sort();
      const html = `<html><body><pre>\n${names.map((n) => `<a href="${encodeURIComponent(n.replace(/\/$/, ''))}${n.endsWith('/') ? '/' : ''}">${n}</a>`).join('\n')}\n</pre></body></html>\n`;
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(html) });
      return void res.end(req.method === 'HEAD' ? undefined : html);
    }
    if (!st?.isFile()) return void res.writeHead(404).end();
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = st.size - 1;
    const headers: Record<string, string | number> = { 'accept-ranges': 'bytes', 'last-modified': st.mtime.toUTCString() };
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), st.size - 1) : st.size - 1;
      if (start >= st.size || start > end) return void res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
      headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['content-length'] = end - start + 1;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    const stream = createReadStream(full, { start, end });
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}
