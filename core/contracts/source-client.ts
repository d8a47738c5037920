import type { Readable } from 'node:stream';

/** A byte range: `start` is inclusive, `length` bytes from it. */
export interface ByteRange {
  start: number;
  length: number;
}

/** Credentials and endpoint for object-storage origins, given per request (CLI flags) or from config. */
export interface ObjectStorageOptions {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  sessionToken?: string;
  /** A credentials file (GCS service account JSON). */
  credentialFile?: string;
  forcePathStyle?: boolean;
}

export interface SourceRequest {
  url: string;
  /** Extra request headers for the origin (HTTP sources send them as they are). */
  headers?: Record<string, string>;
  /** Abort the call: the promise rejects with D7Y_ABORTED and any stream is destroyed. */
  signal?: AbortSignal;
  objectStorage?: ObjectStorageOptions;
  hdfs?: { delegationToken?: string; user?: string };
  /** Free-form options a source may define (for example `platform` for OCI). */
  options?: Record<string, string>;
}

export interface SourceStat {
  url: string;
  /** Undefined when the origin does not say (the download is streamed, pieces computed afterwards). */
  contentLength?: number;
  supportsRange: boolean;
  etag?: string;
  lastModified?: string;
  contentType?: string;
  /** A digest the origin publishes, `sha256:<hex>` or `crc32:<n>`; downloads are verified against it. */
  digest?: string;
}

export interface DownloadRequest extends SourceRequest {
  /** Only these bytes; the source must return exactly them or fail with D7Y_SOURCE_RANGE_UNSUPPORTED. */
  range?: ByteRange;
}

export interface SourceDownload {
  /** The bytes, in order. The caller consumes or destroys it; the source closes it on abort. */
  stream: Readable;
  /** Bytes the stream will carry, when known. */
  contentLength?: number;
  /** Response headers worth passing on (HTTP sources), lower-case names. */
  headers?: Record<string, string>;
}

export interface ListRequest extends SourceRequest {
  recursive?: boolean;
}

/** One object of a listing. `url` can be given to `stat`/`download` as it is. */
export interface SourceEntry {
  url: string;
  /** Path relative to the listed prefix/directory, `/`-separated. */
  path: string;
  isDirectory: boolean;
  contentLength?: number;
  digest?: string;
  etag?: string;
  lastModified?: string;
  /** The object's media type when the listing knows it (an OCI manifest's, so a registry can take it as one). */
  mediaType?: string;
  /**
   * Entries of a higher phase refer to entries of lower phases (a manifest to its layers, an image
   * index to its manifests, a repository index to its metadata files). A copier writes a phase only
   * once every entry of the lower phases is in place, so a reader of the copy never finds a
   * reference to something missing. Default 0.
   */
  phase?: number;
}

export interface PutRequest extends SourceRequest {
  contentLength?: number;
  /** The media type to store the object under (an OCI manifest's); the sink's default when unset. */
  contentType?: string;
}

/**
 * A back-to-source adapter for the URL schemes in `schemes`.
 * Errors are D7yErrors that name the origin, the object and why (auth, not found, range
 * unsupported), with the origin's status where it has one, and never contain secrets.
 */
export interface SourceClient {
  readonly schemes: readonly string[];
  stat(req: SourceRequest): Promise<SourceStat>;
  download(req: DownloadRequest): Promise<SourceDownload>;
  /** Directory/prefix/repository listings, streamed so memory stays flat on huge listings. */
  list?(req: ListRequest): AsyncIterable<SourceEntry>;
  /**
   * What identifies the object's content for the task id, when it is not the URL: an OCI blob
   * addressed by digest is the same task from any registry or mirror. Undefined means the URL.
   */
  taskKey?(url: string): string | undefined;
  /** Writes an object (sync jobs to another store). Consumes `body` fully or destroys it. */
  put?(req: PutRequest, body: Readable): Promise<void>;
  /** Removes an object (`d7y sync --delete`); an object already gone is not an error. */
  delete?(req: SourceRequest): Promise<void>;
}
