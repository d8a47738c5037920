import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import {
  D7yError, LazyUndici, silentLogger,
  type DownloadRequest, type ListRequest, type Logger, type PutRequest, type SourceClient,
  type SourceDownload, type SourceEntry, type SourceRequest, type SourceStat,
} from '../../core/index.js';
import { toWebHdfsError, WebHdfsRemoteError, type WebHdfsErrorContext } from './webhdfs-errors.js';

/** Settings of the `hdfs` source; `req.hdfs` overrides the user and the delegation token. */
export interface HdfsSourceConfig {
  /** `http` (default) or `https` for the WebHDFS endpoint. */
  protocol?: 'http' | 'https';
  /** The namenode's WebHDFS port when the URL has none (9870, Hadoop 3's default). */
  defaultPort?: number;
  /** Sent as `user.name` (simple auth) when no delegation token is given. */
  user?: string;
  /** Sent as `delegation`; wins over `user`. */
  delegationToken?: string;
  connectTimeoutMs?: number;
  /** Headers and idle-body timeout of each call. */
  requestTimeoutMs?: number;
  /** Redirects followed per call (namenode → datanode). */
  maxRedirects?: number;
  /** Directories visited by one recursive listing. */
  maxListDirectories?: number;
}

interface FileStatus { pathSuffix: string; type: 'FILE' | 'DIRECTORY' | 'SYMLINK'; length: number; modificationTime: number }
interface Target { base: string; path: string; ctx: WebHdfsErrorContext; auth: Record<string, string> }

/**
 * The `hdfs://namenode:port/path` source over the WebHDFS REST API with undici: GETFILESTATUS for
 * `stat`, OPEN with offset/length for `download` (following the namenode's 307 to a datanode),
 * LISTSTATUS walked directory by directory for `list`, the two-step CREATE for `put` and DELETE
 * (not recursive) for `delete`.
 * Every call honours `req.signal` (D7Y_ABORTED; a returned stream is destroyed). The delegation
 * token travels only in WebHDFS query strings, never in a message or a log.
 */
export class HdfsSourceClient implements SourceClient {
  readonly schemes = ['hdfs'] as const;
  /** Made (undici loaded) on the first call. */
  private readonly agent: LazyUndici<Agent>;

  constructor(private readonly config: HdfsSourceConfig = {}, private readonly logger: Logger = silentLogger()) {
    const timeout = config.requestTimeoutMs ?? 60_000;
    this.agent = new LazyUndici((u) => new u.Agent({ connectTimeout: config.connectTimeoutMs ?? 10_000, headersTimeout: timeout, bodyTimeout: timeout }));
  }

  async stat(req: SourceRequest): Promise<SourceStat> {
    const t = this.target(req, 'stat');
    const st = await this.fileStatus(t, req.signal);
    if (st.type === 'DIRECTORY') {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${t.ctx.url} is a directory`, {
        fix: 'download a directory recursively (d7y get -r), or name a file', details: { scheme: 'hdfs', path: t.path },
      });
    }
    return { url: req.url, contentLength: st.length, supportsRange: true, lastModified: new Date(st.modificationTime).toUTCString() };
  }

  async download(req: DownloadRequest): Promise<SourceDownload> {
    const t = this.target(req, 'download');
    if (req.range?.length === 0) return { stream: Readable.from([]), contentLength: 0 };
    const query: Record<string, string> = { op: 'OPEN' };
    if (req.range) Object.assign(query, { offset: String(req.range.start), length: String(req.range.length) });
    const inner = new AbortController();
    let body: Readable | undefined;
    const onAbort = () => {
      body?.destroy(new D7yError('D7Y_ABORTED', `download ${t.ctx.url} was aborted`));
      inner.abort();
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.call(t, 'GET', query, inner.signal);
      body = res.body;
      body.once('close', () => req.signal?.removeEventListener('abort', onAbort));
      const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      if (req.range && length !== undefined && length !== req.range.length) {
        body.destroy();
        throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED',
          `download ${t.ctx.url} failed: asked for ${req.range.length} bytes at ${req.range.start}, the datanode sent ${length}`,
          { fix: 'the range lies outside the file; stat it again, it may have changed', details: { scheme: 'hdfs', path: t.path } });
      }
      if (req.signal?.aborted) onAbort();
      return { stream: body, contentLength: length };
    } catch (err) {
      req.signal?.removeEventListener('abort', onAbort);
      throw toWebHdfsError(err, t.ctx, req.signal);
    }
  }

  async *list(req: ListRequest): AsyncIterable<SourceEntry> {
    const root = this.target(req, 'list');
    const pending = [''];
    let visited = 0;
    const limit = this.config.maxListDirectories ?? 100_000;
    while (pending.length > 0) {
      const rel = pending.pop()!;
      if (++visited > limit) {
        throw new D7yError('D7Y_SOURCE_ERROR', `list ${root.ctx.url} stopped after ${limit} directories`, {
          fix: 'list a smaller directory, or raise maxListDirectories in the hdfs plugin config',
        });
      }
      const dir = { ...root, path: rel ? posix.join(root.path, rel) : root.path };
      const statuses = await this.listStatus(dir, req.signal);
      const children = [];
      for (const s of statuses) {
        const path = s.pathSuffix === '' ? posix.basename(root.path) : rel ? `${rel}/${s.pathSuffix}` : s.pathSuffix;
        const full = s.pathSuffix === '' ? root.path : posix.join(dir.path, s.pathSuffix);
        if (s.type === 'DIRECTORY') {
          if (req.recursive) children.push(path);
          else yield { url: this.urlOf(root, full), path, isDirectory: true };
          continue;
        }
        yield {
          url: this.urlOf(root, full), path, isDirectory: false, contentLength: s.length,
          lastModified: new Date(s.modificationTime).toUTCString(),
        };
      }
      pending.push(...children.reverse());
    }
  }

  async put(req: PutRequest, body: Readable): Promise<void> {
    const t = this.target(req, 'put');
    try {
      if (req.signal?.aborted) throw new D7yError('D7Y_ABORTED', `put ${t.ctx.url} was aborted`);
      const res = await this.call(t, 'PUT', { op: 'CREATE', overwrite: 'true' }, req.signal, body);
      await res.body.dump();
    } catch (err) {
      body.destroy();
      throw toWebHdfsError(err, t.ctx, req.signal);
    }
  }

  /** Removes a file (`d7y sync --delete`), never a directory's contents; a file already gone is not an error. */
  async delete(req: SourceRequest): Promise<void> {
    const t = this.target(req, 'delete');
    try {
      const res = await this.call(t, 'DELETE', { op: 'DELETE', recursive: 'false' }, req.signal);
      await res.body.dump();
    } catch (err) {
      throw toWebHdfsError(err, t.ctx, req.signal);
    }
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.agent.current?.close();
  }

  private async fileStatus(t: Target, signal?: AbortSignal): Promise<FileStatus> {
    try {
      const res = await this.call(t, 'GET', { op: 'GETFILESTATUS' }, signal);
      return ((await res.body.json()) as { FileStatus: FileStatus }).FileStatus;
    } catch (err) {
      throw toWebHdfsError(err, t.ctx, signal);
    }
  }

  private async listStatus(t: Target, signal?: AbortSignal): Promise<FileStatus[]> {
    try {
      if (signal?.aborted) throw new D7yError('D7Y_ABORTED', `list ${t.ctx.url} was aborted`);
      const res = await this.call(t, 'GET', { op: 'LISTSTATUS' }, signal);
      return ((await res.body.json()) as { FileStatuses: { FileStatus: FileStatus[] } }).FileStatuses.FileStatus;
    } catch (err) {
      throw toWebHdfsError(err, t.ctx, signal);
    }
  }

  /**
   * One WebHDFS call to the namenode, following 307s to a datanode (a body is sent only to the
   * datanode, as CREATE requires). Resolves with a 2xx response; an error status rejects with
   * WebHdfsRemoteError after reading the RemoteException.
   */
  private async call(t: Target, method: 'GET' | 'PUT' | 'DELETE', op: Record<string, string>, signal?: AbortSignal, body?: Readable): Promise<Dispatcher.ResponseData> {
    const q = new URLSearchParams({ ...op, ...t.auth });
    let url = `${t.base}${encodePath(t.path)}?${q}`;
    for (let hop = 0; ; hop++) {
      const toDatanode = hop > 0;
      const res = await this.agent.request(url, {
        method, signal,
        body: toDatanode ? body : undefined,
        headers: toDatanode && body ? { 'content-type': 'application/octet-stream' } : undefined,
      });
      if (res.statusCode === 307 || res.statusCode === 302 || res.statusCode === 301) {
        await res.body.dump();
        const location = res.headers.location;
        if (typeof location !== 'string' || hop >= (this.config.maxRedirects ?? 3)) {
          throw new WebHdfsRemoteError(res.statusCode, 'IOException', 'redirect without a usable Location');
        }
        url = new URL(location, url).href;
        continue;
      }
      if (res.statusCode >= 400) throw await remoteError(res);
      if (method === 'PUT' && !toDatanode && body) {
        await res.body.dump();
        throw new WebHdfsRemoteError(res.statusCode, 'IOException', 'the namenode accepted CREATE without redirecting to a datanode');
      }
      this.logger.trace({ path: t.path, op: op.op, status: res.statusCode, hops: hop }, 'webhdfs call');
      return res;
    }
  }

  private target(req: SourceRequest, operation: string): Target {
    let parsed: URL | undefined;
    try {
      parsed = new URL(req.url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.protocol !== 'hdfs:' || !parsed.hostname) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `"${req.url}" is not an HDFS URL`, { fix: 'write it as hdfs://<namenode>:<webhdfs port>/<path>' });
    }
    const path = decodeURIComponent(parsed.pathname) || '/';
    const port = parsed.port || String(this.config.defaultPort ?? 9870);
    const token = req.hdfs?.delegationToken ?? this.config.delegationToken;
    const user = req.hdfs?.user ?? this.config.user;
    const auth: Record<string, string> = token ? { delegation: token } : user ? { 'user.name': user } : {};
    const ctx = { url: `hdfs://${parsed.hostname}:${port}${path}`, path, operation, secrets: token ? [token] : [] };
    if (req.signal?.aborted) throw new D7yError('D7Y_ABORTED', `${operation} ${ctx.url} was aborted`);
    return { base: `${this.config.protocol ?? 'http'}://${parsed.hostname}:${port}/webhdfs/v1`, path, ctx, auth };
  }

  private urlOf(root: Target, path: string): string {
    return `hdfs://${new URL(root.base).host}${encodePath(path)}`;
  }
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

async function remoteError(res: Dispatcher.ResponseData): Promise<WebHdfsRemoteError> {
  const text = await res.body.text();
  try {
    const e = (JSON.parse(text) as { RemoteException?: { exception?: string; message?: string } }).RemoteException;
    return new WebHdfsRemoteError(res.statusCode, e?.exception ?? 'IOException', e?.message ?? `HTTP ${res.statusCode}`);
  } catch {
    return new WebHdfsRemoteError(res.statusCode, 'IOException', text.slice(0, 200) || `HTTP ${res.statusCode}`);
  }
}
