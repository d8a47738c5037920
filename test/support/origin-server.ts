import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import type { ExecutionContext } from 'ava';

/**
 * How the origin answers requests for a path (or for every path, when set globally).
 * Per-path settings override global ones field by field.
 */
export interface OriginBehaviour {
  /** Answer every request with this status and a short text body (404, 403, 410, 500 ...). */
  status?: number;
  /** Answer the first `count` requests with `status` (default 503), then behave normally. */
  failFirst?: { count: number; status?: number };
  /** HEAD gets this status (default 405) and no headers about the object. */
  refuseHead?: boolean | number;
  /** Omit Content-Length: the body goes out chunked. */
  chunked?: boolean;
  /** Ignore Range: always 200 with the whole object, and no Accept-Ranges header. */
  ignoreRange?: boolean;
  /** 302 to this path (or absolute URL) of the same server. */
  redirectTo?: string;
  /** Throttle the body to about this many bytes per second. */
  rateBytesPerSec?: number;
  /** Destroy the connection after this many body bytes of a response. */
  dropAfterBytes?: number;
  /** A whole-object GET asking `Accept-Encoding: gzip` gets the body gzip-encoded (no Content-Length). */
  gzipWhenAsked?: boolean;
}

export interface OriginServerOptions {
  /** Objects served from memory, by path (`/a/b.bin`). */
  files?: Record<string, Buffer>;
  /** A directory whose files are served by their relative path (memory files win). */
  dir?: string;
  /** Behaviour applied to every path. */
  behaviour?: OriginBehaviour;
}

/** What the origin has served: body bytes of all responses, and requests per path. */
export interface OriginCounters {
  /** Body bytes written to clients (partial bodies included). */
  readonly bytes: number;
  /** TCP connections accepted (keep-alive reuse keeps this low). */
  readonly connections: number;
  /** Requests received for `path` (any method), or for all paths when omitted; `method` narrows it. */
  requests(path?: string, method?: string): number;
  /** Headers of the last request received for `path`. */
  lastHeaders(path: string): IncomingHttpHeaders | undefined;
  reset(): void;
}

export interface OriginServer {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  readonly port: number;
  readonly served: OriginCounters;
  /** The absolute URL of `path`. */
  urlOf(path: string): string;
  /** Adds or replaces an in-memory object. PUT requests do the same. */
  setFile(path: string, bytes: Buffer): void;
  /** Sets (merges) the behaviour of one path, or the global one with `'*'`. */
  behave(path: string, behaviour: OriginBehaviour): void;
  /** Clears the behaviour of one path, or every behaviour when omitted. */
  clearBehaviour(path?: string): void;
  close(): Promise<void>;
}

interface ObjectRef {
  size: number;
  etag: string;
  lastModified: Date;
  open(start: number, endInclusive: number): Readable;
}

const CHUNK = 64 * 1024;

/**
 * Starts a real node:http origin on 127.0.0.1 (random port), stopped in `t.teardown`.
 * It serves GET/HEAD with single `bytes=` ranges (206 + Content-Range; 416 with `bytes * /size`
 * for an unsatisfiable or malformed range), stores PUT bodies in memory, and follows the
 * behaviours set with `behave` so clients can be tested against failing origins.
 */
export async function startOriginServer(t: ExecutionContext, options: OriginServerOptions = {}): Promise<OriginServer> {
  const files = new Map<string, Buffer>(Object.entries(options.files ?? {}).map(([p, b]) => [normalise(p), b]));
  const behaviours = new Map<string, OriginBehaviour>();
  if (options.behaviour) behaviours.set('*', { ...options.behaviour });
  const requestLog = new Map<string, Map<string, number>>();
  const headerLog = new Map<string, IncomingHttpHeaders>();
  const failures = new Map<string, number>();
  let bytes = 0;
  let connections = 0;
  const fileTimes = new Map<string, Date>();

  const lookup = async (path: string): Promise<ObjectRef | undefined> => {
    const mem = files.get(path);
    if (mem) {
      const lastModified = fileTimes.get(path) ?? new Date(0);
      return {
        size: mem.length,
        etag: `"${createHash('sha1').update(mem.subarray(0, 4096)).digest('hex').slice(0, 16)}-${mem.length}"`,
        lastModified,
        open: (start, end) => Readable.from(slices(mem, start, end + 1), { objectMode: false }),
      };
    }
    if (!options.dir) return undefined;
    const root = resolve(options.dir);
    const full = resolve(root, '.' + decodeURIComponent(path));
    if (full !== root && !full.startsWith(root + sep)) return undefined;
    const st = await stat(full).catch(() => undefined);
    if (!st?.isFile()) return undefined;
    return {
      size: st.size,
      etag: `"${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeMs.toString(16)}"`,
      lastModified: st.mtime,
      open: (start, end) => createReadStream(full, { start, end, highWaterMark: 1024 * 1024 }),
    };
  };

  const behaviourOf = (path: string): OriginBehaviour => ({ ...behaviours.get('*'), ...behaviours.get(path) });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const path = normalise(url.pathname);
    const method = req.method ?? 'GET';
    const perPath = requestLog.get(path) ?? new Map<string, number>();
    perPath.set(method, (perPath.get(method) ?? 0) + 1);
    requestLog.set(path, perPath);
    headerLog.set(path, req.headers);
    const b = behaviourOf(path);

    if (b.failFirst) {
      const done = failures.get(path) ?? 0;
      if (done < b.failFirst.count) {
        failures.set(path, done + 1);
        return text(res, b.failFirst.status ?? 503, 'temporarily unavailable');
      }
    }
    if (b.status !== undefined) return text(res, b.status, `status ${b.status} for ${path}`);
    if (b.redirectTo !== undefined) {
      res.writeHead(302, { location: b.redirectTo, 'content-length': 0 });
      return void res.end();
    }
    if (method === 'PUT') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      files.set(path, Buffer.concat(chunks));
      fileTimes.set(path, new Date());
      return text(res, 201, 'created');
    }
    if (method !== 'GET' && method !== 'HEAD') return text(res, 405, 'method not allowed');
    if (method === 'HEAD' && b.refuseHead) {
      res.writeHead(b.refuseHead === true ? 405 : b.refuseHead, { 'content-length': 0 });
      return void res.end();
    }
    const obj = await lookup(path);
    if (!obj) return text(res, 404, `no object at ${path}`);

    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      etag: obj.etag,
      'last-modified': obj.lastModified.toUTCString(),
    };
    if (!b.ignoreRange) headers['accept-ranges'] = 'bytes';
    let start = 0;
    let end = obj.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range !== undefined && !b.ignoreRange) {
      const parsed = parseRange(range, obj.size);
      if (!parsed) {
        res.writeHead(416, { 'content-range': `bytes */${obj.size}`, 'content-length': 0 });
        return void res.end();
      }
      [start, end] = parsed;
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${obj.size}`;
    }
    const length = Math.max(0, end - start + 1);
    if (b.gzipWhenAsked && status === 200 && method === 'GET' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      const chunks: Buffer[] = [];
      for await (const c of obj.open(0, obj.size - 1) as AsyncIterable<Buffer>) chunks.push(c);
      const raw = Buffer.concat(chunks);
      const packed = gzipSync(raw);
      res.writeHead(200, { ...headers, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
      bytes += packed.length;
      return void res.end(packed);
    }
    if (!b.chunked) headers['content-length'] = length;
    res.writeHead(status, headers);
    if (method === 'HEAD' || length === 0) return void res.end();
    let sent = 0;
    const socket = req.socket;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        const emit = (piece: Buffer) => {
          sent += piece.length;
          bytes += piece.length;
          this.push(piece);
        };
        if (b.dropAfterBytes !== undefined && sent + chunk.length >= b.dropAfterBytes) {
          emit(chunk.subarray(0, Math.max(0, b.dropAfterBytes - sent)));
          this.push(null);
          setImmediate(() => socket.destroy());
          return;
        }
        emit(chunk);
        if (b.rateBytesPerSec) setTimeout(cb, (chunk.length / b.rateBytesPerSec) * 1000);
        else cb();
      },
    });
    const rate = b.rateBytesPerSec;
    const source = obj.open(start, end);
    const paced = rate ? source.pipe(rechunk(Math.max(1, Math.min(CHUNK, Math.floor(rate / 10))))) : source;
    await pipeline(paced, counter, res).catch(() => source.destroy());
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) text(res, 500, String(err));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', () => { connections++; });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((res) => {
      server.close(() => res());
      server.closeAllConnections();
    });
    return closed;
  };
  t.teardown(close);

  return {
    baseUrl,
    port,
    served: {
      get bytes() { return bytes; },
      get connections() { return connections; },
      requests(path?: string, method?: string): number {
        const maps = path === undefined ? [...requestLog.values()] : [requestLog.get(normalise(path))];
        let n = 0;
        for (const m of maps) {
          if (!m) continue;
          for (const [meth, count] of m) if (method === undefined || meth === method.toUpperCase()) n += count;
        }
        return n;
      },
      lastHeaders: (path: string) => headerLog.get(normalise(path)),
      reset(): void {
        bytes = 0;
        connections = 0;
        requestLog.clear();
        headerLog.clear();
        failures.clear();
      },
    },
    urlOf: (path: string) => baseUrl + normalise(path),
    setFile(path: string, data: Buffer): void {
      files.set(normalise(path), data);
      fileTimes.set(normalise(path), new Date());
    },
    behave(path: string, behaviour: OriginBehaviour): void {
      const key = path === '*' ? '*' : normalise(path);
      behaviours.set(key, { ...behaviours.get(key), ...behaviour });
      failures.delete(key);
    },
    clearBehaviour(path?: string): void {
      if (path === undefined) behaviours.clear();
      else behaviours.delete(path === '*' ? '*' : normalise(path));
    },
    close,
  };
}

function normalise(path: string): string {
  return path.startsWith('/') ? path : '/' + path;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function* slices(buf: Buffer, start: number, end: number): Generator<Buffer> {
  for (let i = start; i < end; i += CHUNK) yield buf.subarray(i, Math.min(end, i + CHUNK));
}

function rechunk(size: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      for (let i = 0; i < chunk.length; i += size) this.push(chunk.subarray(i, i + size));
      cb();
    },
  });
}

/** `[start, endInclusive]` of a single `bytes=` range, or undefined when unsatisfiable/malformed. */
function parseRange(header: string, size: number): [number, number] | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return undefined;
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || start > end) return undefined;
  return [start, end];
}
