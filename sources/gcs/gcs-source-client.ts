import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Storage, StorageOptions } from '@google-cloud/storage';
import type { Agent } from 'undici';
import {
  D7yError, LazyUndici, silentLogger,
  type DownloadRequest, type ListRequest, type Logger, type PutRequest, type SourceClient,
  type SourceDownload, type SourceEntry, type SourceRequest, type SourceStat,
} from '../../core/index.js';
import { toGcsError, type GcsErrorContext } from './gcs-errors.js';
import { gcsUrlOf, parseGcsUrl, type GcsLocation } from './gcs-url.js';
import { loadGcsSdk, loadGoogleAuth } from './gcs-sdk.js';

/** Settings of the `gs` source; `endpoint`, `credentialFile` and `sessionToken` of `req.objectStorage` override them. */
export interface GcsSourceConfig {
  /** The JSON API endpoint (an emulator, `http://127.0.0.1:4443`); Google when unset. */
  endpoint?: string;
  /** A service-account JSON key. Without it (and without `accessToken`), a custom endpoint is called unauthenticated. */
  credentialFile?: string;
  /** A static OAuth2 access token sent as `Authorization: Bearer`. */
  accessToken?: string;
  projectId?: string;
  maxRetries?: number;
  /** Objects per listing page (1..1000). */
  listPageSize?: number;
  /** Resumable upload chunk size for `put` (multiple of 256 KiB); one streamed request when unset. */
  uploadChunkSize?: number;
  /** Storage clients kept for distinct endpoint/credential combinations. */
  maxClients?: number;
}

interface Resolved { endpoint?: string; credentialFile?: string; accessToken?: string }

/**
 * The `gs://bucket/object` source on @google-cloud/storage 7: object metadata for `stat`, a ranged
 * `alt=media` GET (undici, the library's auth headers) for `download`, paginated listing (streamed page by page), resumable
 * upload for `put` and a DELETE for `delete`. Every call honours `req.signal` (D7Y_ABORTED; a returned stream is destroyed).
 * `req.objectStorage.sessionToken` is taken as an OAuth2 access token. The library is loaded on
 * the first call, not when the plugin is registered.
 */
export class GcsSourceClient implements SourceClient {
  readonly schemes = ['gs'] as const;
  private readonly clients = new Map<string, Storage>();
  /** Made (undici loaded) on the first download. */
  private readonly agent: LazyUndici<Agent>;

  constructor(private readonly config: GcsSourceConfig = {}, private readonly logger: Logger = silentLogger()) {
    this.agent = new LazyUndici((u) => new u.Agent({ connectTimeout: 10_000, headersTimeout: 60_000, bodyTimeout: 60_000, connections: 64 }));
  }

  async stat(req: SourceRequest): Promise<SourceStat> {
    const { storage, loc, ctx } = await this.prepare(req, 'stat');
    try {
      const [meta] = await untilAborted(storage.bucket(loc.bucket).file(loc.object).getMetadata(), req.signal, ctx);
      return {
        url: req.url,
        contentLength: meta.size === undefined ? undefined : Number(meta.size),
        supportsRange: true,
        etag: meta.etag,
        lastModified: meta.updated ? new Date(meta.updated).toUTCString() : undefined,
        contentType: meta.contentType,
      };
    } catch (err) {
      throw toGcsError(err, ctx, req.signal);
    }
  }

  /** One `alt=media` GET of the JSON API (made here, with undici, so abort and Range are exact). */
  async download(req: DownloadRequest): Promise<SourceDownload> {
    const { storage, loc, ctx, authenticated } = await this.prepare(req, 'download');
    if (req.range?.length === 0) return { stream: Readable.from([]), contentLength: 0 };
    const target = `${storage.apiEndpoint}/storage/v1/b/${encodeURIComponent(loc.bucket)}/o/${encodeURIComponent(loc.object)}?alt=media`;
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (req.range) headers.range = `bytes=${req.range.start}-${req.range.start + req.range.length - 1}`;
    const inner = new AbortController();
    let body: Readable | undefined;
    const onAbort = () => {
      body?.destroy(aborted(ctx));
      inner.abort();
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (authenticated) Object.assign(headers, await untilAborted(storage.authClient.getRequestHeaders(target), req.signal, ctx));
      const res = await this.agent.request(target, { headers, signal: inner.signal });
      body = res.body;
      body.once('close', () => req.signal?.removeEventListener('abort', onAbort));
      if (res.statusCode >= 400) throw await apiError(res.statusCode, res.body);
      const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      if (req.range && (res.statusCode !== 206 || length !== req.range.length)) {
        body.destroy();
        throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED',
          `download ${ctx.url} failed: asked for ${req.range.length} bytes at ${req.range.start}, the endpoint answered ${res.statusCode} with ${length ?? 'an unknown number of'} bytes`,
          { fix: 'use a GCS endpoint that supports ranged media downloads', details: { scheme: 'gs', bucket: loc.bucket, url: ctx.url } });
      }
      if (req.signal?.aborted) onAbort();
      return { stream: body, contentLength: length };
    } catch (err) {
      req.signal?.removeEventListener('abort', onAbort);
      body?.destroy();
      throw toGcsError(err, ctx, req.signal);
    }
  }

  async *list(req: ListRequest): AsyncIterable<SourceEntry> {
    const { storage, loc, ctx } = await this.prepare(req, 'list');
    const prefix = loc.object === '' || loc.object.endsWith('/') ? loc.object : `${loc.object}/`;
    const bucket = storage.bucket(loc.bucket);
    let pageToken: string | undefined;
    do {
      let files, next, raw;
      try {
        [files, next, raw] = await untilAborted(bucket.getFiles({
          prefix: prefix || undefined,
          delimiter: req.recursive ? undefined : '/',
          autoPaginate: false,
          maxResults: this.config.listPageSize ?? 1000,
          pageToken,
        }), req.signal, ctx);
      } catch (err) {
        throw toGcsError(err, ctx, req.signal);
      }
      for (const p of (raw as { prefixes?: string[] } | undefined)?.prefixes ?? []) {
        yield { url: gcsUrlOf(loc.bucket, p), path: p.slice(prefix.length).replace(/\/$/, ''), isDirectory: true };
      }
      for (const f of files) {
        if (f.name === prefix) continue;
        yield {
          url: gcsUrlOf(loc.bucket, f.name),
          path: f.name.slice(prefix.length),
          isDirectory: false,
          contentLength: f.metadata.size === undefined ? undefined : Number(f.metadata.size),
          etag: f.metadata.etag,
          lastModified: f.metadata.updated ? new Date(f.metadata.updated).toUTCString() : undefined,
        };
      }
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
  }

  async put(req: PutRequest, body: Readable): Promise<void> {
    const { storage, loc, ctx } = await this.prepare(req, 'put');
    if (req.signal?.aborted) {
      body.destroy();
      throw aborted(ctx);
    }
    const sink = storage.bucket(loc.bucket).file(loc.object).createWriteStream({
      resumable: true,
      validation: false,
      chunkSize: this.config.uploadChunkSize,
      metadata: { contentType: 'application/octet-stream' },
    });
    try {
      await pipeline(body, sink, { signal: req.signal });
    } catch (err) {
      body.destroy();
      throw toGcsError(err, ctx, req.signal);
    }
  }

  /** Removes the object (`d7y sync --delete`); an object already gone is not an error. */
  async delete(req: SourceRequest): Promise<void> {
    const { storage, loc, ctx } = await this.prepare(req, 'delete');
    try {
      await untilAborted(storage.bucket(loc.bucket).file(loc.object).delete({ ignoreNotFound: true }), req.signal, ctx);
    } catch (err) {
      throw toGcsError(err, ctx, req.signal);
    }
  }

  /** Forgets the cached Storage clients and closes the download connections. */
  async close(): Promise<void> {
    this.clients.clear();
    await this.agent.current?.close();
  }

  private async prepare(req: SourceRequest, operation: string): Promise<{ storage: Storage; loc: GcsLocation; ctx: GcsErrorContext; authenticated: boolean }> {
    const loc = parseGcsUrl(req.url);
    const r: Resolved = {
      endpoint: req.objectStorage?.endpoint ?? this.config.endpoint,
      credentialFile: req.objectStorage?.credentialFile ?? this.config.credentialFile,
      accessToken: req.objectStorage?.sessionToken ?? this.config.accessToken,
    };
    const ctx = { url: `gs://${loc.bucket}/${loc.object}`, bucket: loc.bucket, operation, secrets: r.accessToken ? [r.accessToken] : [] };
    if (req.signal?.aborted) throw aborted(ctx);
    return { storage: await this.storageFor(r), loc, ctx, authenticated: !r.endpoint || !!r.accessToken || !!r.credentialFile };
  }

  private async storageFor(r: Resolved): Promise<Storage> {
    const { Storage } = await loadGcsSdk();
    const auth = r.accessToken ? await loadGoogleAuth() : undefined;
    const key = createHash('sha256').update(JSON.stringify(r)).digest('hex');
    const hit = this.clients.get(key);
    if (hit) return hit;
    const options: StorageOptions = {
      projectId: this.config.projectId ?? 'd7y',
      retryOptions: { maxRetries: this.config.maxRetries ?? 3 },
    };
    if (r.endpoint) options.apiEndpoint = r.endpoint;
    if (r.accessToken && auth) {
      const client = new auth.OAuth2Client();
      client.setCredentials({ access_token: r.accessToken });
      options.authClient = client;
      options.useAuthWithCustomEndpoint = true;
    } else if (r.credentialFile) {
      options.keyFilename = r.credentialFile;
      options.useAuthWithCustomEndpoint = true;
    }
    const storage = new Storage(options);
    if (this.clients.size >= (this.config.maxClients ?? 16)) this.clients.delete(this.clients.keys().next().value as string);
    this.clients.set(key, storage);
    this.logger.debug({ endpoint: r.endpoint, credentialFile: r.credentialFile }, 'gcs client created');
    return storage;
  }
}

function aborted(ctx: GcsErrorContext): D7yError {
  return new D7yError('D7Y_ABORTED', `${ctx.operation} ${ctx.url} was aborted`);
}

/** Settles with `p`, or rejects with D7Y_ABORTED as soon as `signal` fires. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, ctx: GcsErrorContext): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(ctx));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The JSON API's error body as the ApiError shape `toGcsError` reads. */
async function apiError(status: number, body: Readable): Promise<Error> {
  let text = '';
  for await (const chunk of body) {
    if (text.length < 64 * 1024) text += String(chunk);
  }
  let parsed: { error?: { message?: string; errors?: Array<{ reason?: string }> } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = { error: { message: text.slice(0, 200) || `HTTP ${status}` } };
  }
  return Object.assign(new Error(parsed.error?.message ?? `HTTP ${status}`), { code: status, errors: parsed.error?.errors });
}
