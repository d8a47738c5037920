import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface FakeWebHdfsOptions {
  /** The HDFS namespace: `/a/b` is `<root>/a/b` on disk. */
  root: string;
  /** When set, only these `user.name` values (or a valid delegation token) are let in; others get 403. */
  users?: string[];
  /** A delegation token accepted in place of `user.name`; any other token is refused (403 InvalidToken). */
  delegationToken?: string;
  /** Paths under which everyone is refused with AccessControlException. */
  forbiddenPrefix?: string;
}

/**
 * A WebHDFS REST server on 127.0.0.1: a "namenode" answering GETFILESTATUS, LISTSTATUS, DELETE,
 * and 307 redirects for OPEN and CREATE to a "datanode" on another port, which streams OPEN (with
 * offset/length) and CREATE bodies to and from files on disk. Errors are RemoteException JSON.
 */
export class FakeWebHdfsServer {
  /** Every request as `namenode|datanode METHOD path?query`, for assertions. */
  readonly requests: string[] = [];
  private namenode?: Server;
  private datanode?: Server;

  constructor(private readonly options: FakeWebHdfsOptions) {}

  /** `host:port` of the namenode, for `hdfs://` URLs. */
  get authority(): string {
    return `127.0.0.1:${(this.namenode!.address() as AddressInfo).port}`;
  }

  get datanodePort(): number {
    return (this.datanode!.address() as AddressInfo).port;
  }

  async start(): Promise<void> {
    await mkdir(this.options.root, { recursive: true });
    this.namenode = createServer((req, res) => this.serve('namenode', req, res));
    this.datanode = createServer((req, res) => this.serve('datanode', req, res));
    for (const s of [this.namenode, this.datanode]) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const s of [this.namenode, this.datanode]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    this.namenode = this.datanode = undefined;
  }

  /** The local file behind an HDFS path. */
  localPath(hdfsPath: string): string {
    return join(this.options.root, ...hdfsPath.split('/').filter(Boolean));
  }

  private serve(node: 'namenode' | 'datanode', req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${node} ${req.method} ${req.url}`);
    const handler = node === 'namenode' ? this.nameNode(req, res) : this.dataNode(req, res);
    handler.catch((err: Error) => {
      if (!res.headersSent) remote(res, 500, 'IOException', err.message);
      else res.destroy(err);
    });
  }

  private async nameNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (!url.pathname.startsWith('/webhdfs/v1/')) return remote(res, 404, 'IllegalArgumentException', `no such endpoint ${url.pathname}`);
    const path = decodeURIComponent(url.pathname.slice('/webhdfs/v1'.length));
    const op = (url.searchParams.get('op') ?? '').toUpperCase();
    if (!this.authorized(url, path, res)) return;
    const file = this.localPath(path);
    if (op === 'OPEN' || op === 'CREATE') {
      const location = `http://127.0.0.1:${this.datanodePort}${url.pathname}${url.search}&namenoderpcaddress=${this.authority}`;
      if (op === 'OPEN' && !(await stat(file).catch(() => undefined))?.isFile()) return remote(res, 404, 'FileNotFoundException', `File does not exist: ${path}`);
      res.writeHead(307, { location, 'content-length': '0' }).end();
      return;
    }
    const st = await stat(file).catch(() => undefined);
    if (!st && op === 'DELETE') return json(res, 200, { boolean: false });
    if (!st) return remote(res, 404, 'FileNotFoundException', `File does not exist: ${path}`);
    if (op === 'DELETE' && req.method === 'DELETE') {
      if (st.isDirectory() && url.searchParams.get('recursive') !== 'true' && (await readdir(file)).length > 0) {
        return remote(res, 403, 'PathIsNotEmptyDirectoryException', `${path} is non empty': Directory is not empty`);
      }
      await rm(file, { recursive: true });
      return json(res, 200, { boolean: true });
    }
    if (op === 'GETFILESTATUS') return json(res, 200, { FileStatus: status('', st.isDirectory(), st.size, st.mtimeMs) });
    if (op === 'LISTSTATUS') {
      const names = st.isDirectory() ? (await readdir(file)).sort() : [''];
      const entries = [];
      for (const n of names) {
        const s = await stat(join(file, n));
        entries.push(status(n, s.isDirectory(), s.size, s.mtimeMs));
      }
      return json(res, 200, { FileStatuses: { FileStatus: entries } });
    }
    return remote(res, 400, 'IllegalArgumentException', `Invalid value for webhdfs parameter "op": ${op}`);
  }

  private async dataNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = decodeURIComponent(url.pathname.slice('/webhdfs/v1'.length));
    const op = (url.searchParams.get('op') ?? '').toUpperCase();
    const file = this.localPath(path);
    if (op === 'CREATE' && req.method === 'PUT') {
      await mkdir(dirname(file), { recursive: true });
      await pipeline(req, createWriteStream(file));
      res.writeHead(201, { location: `hdfs://${this.authority}${path}`, 'content-length': '0' }).end();
      return;
    }
    if (op !== 'OPEN') return remote(res, 400, 'IllegalArgumentException', `datanode does not serve ${op}`);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return remote(res, 404, 'FileNotFoundException', `File does not exist: ${path}`);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const length = url.searchParams.has('length') ? Number(url.searchParams.get('length')) : st.size - offset;
    if (offset > st.size) return remote(res, 403, 'IOException', `Offset=${offset} out of the range [0, ${st.size}); ${path}`);
    const n = Math.max(0, Math.min(length, st.size - offset));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
    if (n === 0) return void res.end();
    await pipeline(createReadStream(file, { start: offset, end: offset + n - 1, highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
  }

  private authorized(url: URL, path: string, res: ServerResponse): boolean {
    const token = url.searchParams.get('delegation');
    if (token !== null) {
      if (token === this.options.delegationToken) return true;
      remote(res, 403, 'SecretManager$InvalidToken', 'token is expired or doesn\'t exist');
      return false;
    }
    const user = url.searchParams.get('user.name');
    if (this.options.users && (!user || !this.options.users.includes(user))) {
      remote(res, 401, 'SecurityException', `Failed to obtain user group information: user ${user ?? '(none)'}`);
      return false;
    }
    if (this.options.forbiddenPrefix && path.startsWith(this.options.forbiddenPrefix)) {
      remote(res, 403, 'AccessControlException', `Permission denied: user=${user}, access=READ, inode="${path}"`);
      return false;
    }
    return true;
  }
}

function status(pathSuffix: string, dir: boolean, length: number, mtimeMs: number): object {
  return {
    pathSuffix, type: dir ? 'DIRECTORY' : 'FILE', length: dir ? 0 : length, modificationTime: Math.floor(mtimeMs),
    accessTime: Math.floor(mtimeMs), blockSize: 134217728, replication: dir ? 0 : 3, owner: 'd7y', group: 'supergroup', permission: dir ? '755' : '644',
  };
}

function json(res: ServerResponse, code: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }).end(text);
}

function remote(res: ServerResponse, code: number, exception: string, message: string): void {
  json(res, code, { RemoteException: { exception, javaClassName: `org.apache.hadoop.${exception}`, message } });
}
