import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ListObjectsV2CommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import {
  D7yError, silentLogger,
  type DownloadRequest, type ListRequest, type Logger, type ObjectStorageOptions, type PutRequest,
  type SourceClient, type SourceDownload, type SourceEntry, type SourceRequest, type SourceStat,
} from '../../core/index.js';
import { s3ErrorCode, toS3Error, type S3ErrorContext } from './s3-errors.js';
import { loadS3Sdk, loadS3Upload } from './s3-sdk.js';
import { parseS3Url, prefixOf, s3UrlOf, type S3Location } from './s3-url.js';

/** Settings of the `s3` source; every field may be overridden per request by `req.objectStorage`. */
export interface S3SourceConfig {
  /** An S3-compatible endpoint (`http://127.0.0.1:9000`); AWS when unset. */
  endpoint?: string;
  /** Defaults to AWS_REGION, then `us-east-1`. */
  region?: string;
  /** Path-style addressing; defaults to true when `endpoint` is set, false otherwise. */
  forcePathStyle?: boolean;
  /** With `accessKeySecret`; when unset, the SDK's default chain (AWS_ACCESS_KEY_ID, …) applies. */
  accessKeyId?: string;
  accessKeySecret?: string;
  sessionToken?: string;
  maxAttempts?: number;
  connectTimeoutMs?: number;
  /** Socket idle timeout of a request. */
  requestTimeoutMs?: number;
  /** Multipart part size for `put`, at least 5 MiB. */
  partSize?: number;
  /** Parts uploaded at once by `put`. */
  uploadConcurrency?: number;
  /** Keys per ListObjectsV2 page (1..1000). */
  listPageSize?: number;
  /** S3 clients kept for distinct endpoint/credential combinations. */
  maxClients?: number;
}

type S3Sdk = typeof import('@aws-sdk/client-s3');

interface Resolved {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  accessKeySecret?: string;
  sessionToken?: string;
}

/**
 * The `s3://bucket/key` source on @aws-sdk/client-s3: HeadObject for `stat`, ranged GetObject for
 * `download`, paginated ListObjectsV2 for `list` (streamed page by page) and a multipart Upload
 * for `put`. Every call honours `req.signal` (D7Y_ABORTED; a returned stream is destroyed).
 * Errors name `s3://bucket/key` and S3's error code; secrets never appear in them. The SDK is
 * loaded on the first call, not when the plugin is registered.
 */
export class S3SourceClient implements SourceClient {
  readonly schemes = ['s3'] as const;
  private readonly clients = new Map<string, S3Client>();

  constructor(private readonly config: S3SourceConfig = {}, private readonly logger: Logger = silentLogger()) {}

  async stat(req: SourceRequest): Promise<SourceStat> {
    const loc = parseS3Url(req.url);
    const { sdk, client, ctx } = await this.prepare(req, loc, 'stat');
    checkAborted(req.signal, ctx);
    try {
      const out = await client.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: req.signal });
      return {
        url: req.url,
        contentLength: out.ContentLength,
        supportsRange: true,
        etag: out.ETag,
        lastModified: out.LastModified?.toUTCString(),
        contentType: out.ContentType,
      };
    } catch (err) {
      throw await this.explain(err, sdk, client, loc, ctx, req.signal);
    }
  }

  async download(req: DownloadRequest): Promise<SourceDownload> {
    const loc = parseS3Url(req.url);
    const { sdk, client, ctx } = await this.prepare(req, loc, 'download');
    checkAborted(req.signal, ctx);
    if (req.range?.length === 0) return { stream: Readable.from([]), contentLength: 0 };
    const inner = new AbortController();
    const range = req.range ? `bytes=${req.range.start}-${req.range.start + req.range.length - 1}` : undefined;
    let body: Readable | undefined;
    const onAbort = () => {
      body?.destroy(aborted(ctx));
      inner.abort();
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const out = await client.send(new sdk.GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, Range: range }), { abortSignal: inner.signal });
      body = out.Body as Readable;
      body.once('close', () => req.signal?.removeEventListener('abort', onAbort));
      if (req.range && (!out.ContentRange || out.ContentLength !== req.range.length)) {
        body.destroy();
        throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED',
          `download ${req.url} failed: asked for ${req.range.length} bytes at ${req.range.start}, the endpoint sent ${out.ContentLength ?? 'an unknown number of'} bytes${out.ContentRange ? '' : ' without Content-Range'}`,
          { fix: 'use an S3 endpoint that supports ranged GET', details: { scheme: 's3', bucket: loc.bucket, url: req.url } });
      }
      if (req.signal?.aborted) onAbort();
      return { stream: body, contentLength: out.ContentLength };
    } catch (err) {
      req.signal?.removeEventListener('abort', onAbort);
      throw await this.explain(err, sdk, client, loc, ctx, req.signal);
    }
  }

  async *list(req: ListRequest): AsyncIterable<SourceEntry> {
    const loc = parseS3Url(req.url);
    const { sdk, client, ctx } = await this.prepare(req, loc, 'list');
    const prefix = prefixOf(loc.key);
    let token: string | undefined;
    do {
      checkAborted(req.signal, ctx);
      let page: ListObjectsV2CommandOutput;
      try {
        page = await client.send(new sdk.ListObjectsV2Command({
          Bucket: loc.bucket,
          Prefix: prefix || undefined,
          Delimiter: req.recursive ? undefined : '/',
          ContinuationToken: token,
          MaxKeys: this.config.listPageSize ?? 1000,
        }), { abortSignal: req.signal });
      } catch (err) {
        throw toS3Error(err, ctx, req.signal);
      }
      for (const p of page.CommonPrefixes ?? []) {
        if (!p.Prefix) continue;
        yield { url: s3UrlOf(loc.bucket, p.Prefix), path: p.Prefix.slice(prefix.length).replace(/\/$/, ''), isDirectory: true };
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key === prefix) continue;
        yield {
          url: s3UrlOf(loc.bucket, o.Key),
          path: o.Key.slice(prefix.length),
          isDirectory: false,
          contentLength: o.Size,
          etag: o.ETag,
          lastModified: o.LastModified?.toUTCString(),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async put(req: PutRequest, body: Readable): Promise<void> {
    const loc = parseS3Url(req.url);
    const { client, ctx } = await this.prepare(req, loc, 'put').catch((err: unknown) => {
      body.destroy();
      throw err;
    });
    const { Upload } = await loadS3Upload().catch((err: unknown) => {
      body.destroy();
      throw err;
    });
    if (req.signal?.aborted) {
      body.destroy();
      throw aborted(ctx);
    }
    const upload = new Upload({
      client,
      params: { Bucket: loc.bucket, Key: loc.key, Body: body },
      partSize: this.config.partSize ?? 16 * 1024 * 1024,
      queueSize: this.config.uploadConcurrency ?? 4,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      body.destroy();
      throw toS3Error(err, ctx, req.signal);
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  async delete(req: SourceRequest): Promise<void> {
    const loc = parseS3Url(req.url);
    const { sdk, client, ctx } = await this.prepare(req, loc, 'delete');
    checkAborted(req.signal, ctx);
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: req.signal });
    } catch (err) {
      throw toS3Error(err, ctx, req.signal);
    }
  }

  /** Releases the SDK clients and their sockets. */
  close(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private async prepare(req: SourceRequest, loc: S3Location, operation: string): Promise<{ sdk: S3Sdk; client: S3Client; ctx: S3ErrorContext }> {
    const r = this.resolve(req.objectStorage);
    const secrets = [r.accessKeySecret, r.sessionToken].filter((s): s is string => !!s);
    const sdk = await loadS3Sdk();
    return { sdk, client: this.clientFor(sdk, r), ctx: { url: `s3://${loc.bucket}/${loc.key}`, bucket: loc.bucket, operation, secrets } };
  }

  private resolve(o: ObjectStorageOptions = {}): Resolved {
    const c = this.config;
    const endpoint = o.endpoint ?? c.endpoint;
    return {
      endpoint,
      region: o.region ?? c.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: o.forcePathStyle ?? c.forcePathStyle ?? endpoint !== undefined,
      accessKeyId: o.accessKeyId ?? c.accessKeyId,
      accessKeySecret: o.accessKeySecret ?? c.accessKeySecret,
      sessionToken: o.sessionToken ?? c.sessionToken,
    };
  }

  private clientFor(sdk: S3Sdk, r: Resolved): S3Client {
    const key = createHash('sha256').update(JSON.stringify(r)).digest('hex');
    const hit = this.clients.get(key);
    if (hit) return hit;
    const options: S3ClientConfig = {
      endpoint: r.endpoint,
      region: r.region,
      forcePathStyle: r.forcePathStyle,
      maxAttempts: this.config.maxAttempts ?? 3,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: this.config.connectTimeoutMs ?? 10_000,
        requestTimeout: this.config.requestTimeoutMs ?? 60_000,
      },
    };
    if (r.accessKeyId && r.accessKeySecret) {
      options.credentials = { accessKeyId: r.accessKeyId, secretAccessKey: r.accessKeySecret, sessionToken: r.sessionToken };
    }
    const client = new sdk.S3Client(options);
    if (this.clients.size >= (this.config.maxClients ?? 16)) {
      const [oldestKey, oldest] = this.clients.entries().next().value as [string, S3Client];
      this.clients.delete(oldestKey);
      oldest.destroy();
    }
    this.clients.set(key, client);
    this.logger.debug({ endpoint: r.endpoint, region: r.region, forcePathStyle: r.forcePathStyle }, 's3 client created');
    return client;
  }

  /** A HEAD gives 404 without a body: ask for the bucket so the message says which of the two is missing. */
  private async explain(err: unknown, sdk: S3Sdk, client: S3Client, loc: S3Location, ctx: S3ErrorContext, signal?: AbortSignal): Promise<D7yError> {
    const code = s3ErrorCode(err);
    if (!signal?.aborted && (code === 'NotFound' || code === 'NoSuchKey')) {
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: loc.bucket }), { abortSignal: signal });
      } catch (bucketErr) {
        const bucketCode = s3ErrorCode(bucketErr);
        if (bucketCode === 'NotFound' || bucketCode === 'NoSuchBucket') {
          return toS3Error(Object.assign(new Error(`the bucket "${loc.bucket}" does not exist`), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }), ctx, signal);
        }
      }
      if (code === 'NotFound') {
        return toS3Error(Object.assign(new Error(`the key "${loc.key}" does not exist in bucket "${loc.bucket}"`), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }), ctx, signal);
      }
    }
    return toS3Error(err, ctx, signal);
  }
}

function aborted(ctx: S3ErrorContext): D7yError {
  return new D7yError('D7Y_ABORTED', `${ctx.operation} ${ctx.url} was aborted`);
}

function checkAborted(signal: AbortSignal | undefined, ctx: S3ErrorContext): void {
  if (signal?.aborted) throw aborted(ctx);
}
