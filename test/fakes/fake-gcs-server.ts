import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface FakeGcsOptions {
  /** Where buckets (directories) and objects (files) live. */
  root: string;
  buckets: string[];
  /** When set, every request must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
  /** Buckets whose every request is refused with 403. */
  forbiddenBuckets?: string[];
}

interface Upload { bucket: string; name: string; tmp: string; received: number }

/**
 * A small GCS JSON API server on 127.0.0.1 with the calls @google-cloud/storage makes: bucket and
 * object metadata, media download with Range (`alt=media`), listing with prefix/delimiter/pageToken,
 * resumable upload (single-request or chunked) and delete. Objects are files on disk, streamed both ways.
 */
export class FakeGcsServer {
  /** Every request as `METHOD path?query`, for assertions. */
  readonly requests: string[] = [];
  private server?: Server;
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly options: FakeGcsOptions) {}

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    for (const b of this.options.buckets) await mkdir(join(this.options.root, b), { recursive: true });
    this.server = createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) sendError(res, 500, 'internalError', err.message);
        else res.destroy(err);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Path of the file that holds `bucket/name` (seed it directly for large objects). */
  objectPath(bucket: string, name: string): string {
    return join(this.options.root, bucket, encodeURIComponent(name));
  }

  /** Stores `body` as `bucket/name`, streaming. */
  async putObject(bucket: string, name: string, body: Readable | Buffer): Promise<void> {
    await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(this.objectPath(bucket, name)));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = /^\/(?:(upload|download)\/)?storage\/v1\/b\/([^/]+)(?:\/o(?:\/(.+))?)?$/.exec(url.pathname);
    if (!m) return sendError(res, 404, 'notFound', `no route ${req.method} ${url.pathname}`);
    const [, kind, rawBucket, rawObject] = m;
    const bucket = decodeURIComponent(rawBucket!);
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return sendError(res, 401, 'authError', 'Invalid Credentials');
    }
    if (this.options.forbiddenBuckets?.includes(bucket)) {
      return sendError(res, 403, 'forbidden', `caller does not have storage.objects.get access to the Google Cloud Storage bucket ${bucket}.`);
    }
    if (!(await exists(join(this.options.root, bucket)))) {
      return sendError(res, 404, 'notFound', 'The specified bucket does not exist.');
    }
    if (kind === 'upload') return this.upload(req, res, bucket, url);
    if (req.method === 'DELETE' && rawObject !== undefined) return this.remove(res, bucket, decodeURIComponent(rawObject));
    if (req.method !== 'GET') return sendError(res, 405, 'methodNotAllowed', `${req.method} not supported`);
    if (url.pathname.endsWith(`/b/${rawBucket}`)) return sendJson(res, 200, { kind: 'storage#bucket', name: bucket, id: bucket });
    if (rawObject === undefined) return this.list(res, bucket, url);
    const name = decodeURIComponent(rawObject);
    const file = this.objectPath(bucket, name);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return sendError(res, 404, 'notFound', `No such object: ${bucket}/${name}`);
    if (url.searchParams.get('alt') === 'media') return media(req, res, file, st.size);
    return sendJson(res, 200, resource(bucket, name, st.size, st.mtime));
  }

  /** The JSON API's objects.delete: 204, or 404 when there is no such object. */
  private async remove(res: ServerResponse, bucket: string, name: string): Promise<void> {
    const file = this.objectPath(bucket, name);
    if (!(await stat(file).catch(() => undefined))?.isFile()) return sendError(res, 404, 'notFound', `No such object: ${bucket}/${name}`);
    await rm(file);
    res.writeHead(204).end();
  }

  private async list(res: ServerResponse, bucket: string, url: URL): Promise<void> {
    const prefix = url.searchParams.get('prefix') ?? '';
    const delimiter = url.searchParams.get('delimiter') ?? '';
    const max = Math.min(Number(url.searchParams.get('maxResults') ?? 1000) || 1000, 1000);
    const after = url.searchParams.get('pageToken') ? Buffer.from(url.searchParams.get('pageToken')!, 'base64url').toString() : '';
    const names = (await readdir(join(this.options.root, bucket))).filter((f) => !f.startsWith('.upload-'))
      .map(decodeURIComponent).filter((n) => n.startsWith(prefix)).sort();
    const items: object[] = [];
    const prefixes = new Set<string>();
    let last = '';
    let truncated = false;
    for (const n of names) {
      if (n <= after) continue;
      const cut = delimiter ? n.indexOf(delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const p = n.slice(0, cut + delimiter.length);
        if (p <= after || prefixes.has(p)) continue;
        if (items.length + prefixes.size >= max) { truncated = true; break; }
        prefixes.add(p);
        last = n.slice(0, cut) + '\uffff';
        continue;
      }
      if (items.length + prefixes.size >= max) { truncated = true; break; }
      const st = await stat(this.objectPath(bucket, n));
      items.push(resource(bucket, n, st.size, st.mtime));
      last = n;
    }
    sendJson(res, 200, {
      kind: 'storage#objects',
      ...(items.length ? { items } : {}),
      ...(prefixes.size ? { prefixes: [...prefixes] } : {}),
      ...(truncated ? { nextPageToken: Buffer.from(last).toString('base64url') } : {}),
    });
  }

  private async upload(req: IncomingMessage, res: ServerResponse, bucket: string, url: URL): Promise<void> {
    if (url.searchParams.get('uploadType') !== 'resumable') return sendError(res, 400, 'invalid', 'only uploadType=resumable is supported');
    if (req.method === 'POST') {
      const meta = JSON.parse((await readAll(req)) || '{}') as { name?: string };
      const name = url.searchParams.get('name') ?? meta.name;
      if (!name) return sendError(res, 400, 'required', 'object name missing');
      const id = randomUUID();
      this.uploads.set(id, { bucket, name, tmp: join(this.options.root, bucket, `.upload-${id}`), received: 0 });
      const location = `${this.endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
      res.writeHead(200, { location, 'content-length': '0' }).end();
      return;
    }
    const up = this.uploads.get(url.searchParams.get('upload_id') ?? '');
    if (req.method !== 'PUT' || !up) return sendError(res, 404, 'notFound', 'no such upload session');
    const range = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(String(req.headers['content-range'] ?? 'bytes */*'));
    if (!range) return sendError(res, 400, 'invalid', `bad Content-Range ${req.headers['content-range']}`);
    const [, , first, lastByte, total] = range;
    if (first !== undefined) {
      if (Number(first) !== up.received) return sendError(res, 400, 'invalid', `expected offset ${up.received}, got ${first}`);
      await pipeline(req, createWriteStream(up.tmp, { flags: up.received ? 'r+' : 'w', start: up.received }));
      up.received = (await stat(up.tmp)).size;
    } else {
      await readAll(req);
    }
    const done = total === '*' ? lastByte === '*' : up.received >= Number(total);
    if (!done) {
      res.writeHead(308, up.received ? { range: `bytes=0-${up.received - 1}`, 'content-length': '0' } : { 'content-length': '0' }).end();
      return;
    }
    if (!up.received) await pipeline(Readable.from([]), createWriteStream(up.tmp));
    await rename(up.tmp, this.objectPath(up.bucket, up.name));
    this.uploads.delete(url.searchParams.get('upload_id')!);
    const st = await stat(this.objectPath(up.bucket, up.name));
    sendJson(res, 200, resource(up.bucket, up.name, st.size, st.mtime));
  }

  /** Removes every upload left half-done. */
  async cleanUploads(): Promise<void> {
    for (const up of this.uploads.values()) await rm(up.tmp, { force: true });
    this.uploads.clear();
  }
}

function resource(bucket: string, name: string, size: number, mtime: Date): object {
  const generation = String(Math.floor(mtime.getTime() * 1000));
  return {
    kind: 'storage#object', id: `${bucket}/${name}/${generation}`, name, bucket, generation, metageneration: '1',
    contentType: 'application/octet-stream', size: String(size), updated: mtime.toISOString(), timeCreated: mtime.toISOString(),
    etag: Buffer.from(`${size}:${generation}`).toString('base64'), storageClass: 'STANDARD',
  };
}

function media(req: IncomingMessage, res: ServerResponse, file: string, size: number): void {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
  const m = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
  if (m) {
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : size - 1, size - 1);
    if (start >= size || end < start) return sendError(res, 416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.');
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(end - start + 1) });
    pipeline(createReadStream(file, { start, end, highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(size) });
  pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)) }).end(text);
}

function sendError(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason }] } });
}

async function readAll(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
