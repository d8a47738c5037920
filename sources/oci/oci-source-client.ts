import { Readable } from 'node:stream';
import {
  D7yError, type DownloadRequest, type ListRequest, type Logger, type PutRequest, type SourceClient, type SourceDownload,
  type SourceEntry, type SourceRequest, type SourceStat, abortableStream, DigestVerifier, readLimited } from '../../core/index.js';
import { ociBlobTaskKey } from './oci-blob-task-key.js';
import {
  choosePlatform, dockerToOciManifest, hostPlatform, isIndex, MANIFEST_ACCEPT, MEDIA_TYPES, type ImageIndex, type ImageManifest,
} from './oci-manifest.js';
import { blobPath, indexJson, LAYOUT_FILE, listEveryPlatform, sha256, type FetchedManifest } from './oci-image-listing.js';
import { ALL_PLATFORMS, describeOciUrl, ociBlobUrl, ociManifestUrl, ociTagUrl, parseOciUrl, type OciUrl } from './oci-url.js';
import { header, RegistryClient } from './registry-client.js';
import { RegistryPush } from './registry-push.js';
import type { RegistryCredentials } from './registry-auth.js';

export interface OciSourceOptions {
  /** Credentials by registry (`host[:port]`). */
  credentials?: ReadonlyMap<string, RegistryCredentials>;
  /** Registries (`host[:port]`) reached over plain http. */
  insecureRegistries?: Iterable<string>;
  /** Default platform `os/arch[/variant]`; the host's when unset. */
  platform?: string;
  timeoutMs?: number;
  maxRedirections?: number;
  /** Manifests larger than this are refused (they are read into memory). */
  maxManifestBytes?: number;
  /** `put`: blobs of a known size up to this go in one streamed request, others in chunks (default 512 MiB). */
  monolithicUploadMaxBytes?: number;
  /** `put`: bytes per chunk of a chunked blob upload (default 8 MiB). */
  uploadChunkBytes?: number;
  logger?: Logger;
}

const LAYOUT_MEDIA_TYPE = 'application/json';

/**
 * The `oci` source: images, manifests and blobs of OCI distribution registries (grammar in
 * sources/oci/README.md). Tags resolve through image indexes / manifest lists to the requested
 * platform (`?platform=`, request option `platform`, config, else the host's). Blob downloads are
 * verified against the digest when the whole blob is read; manifests always are.
 */
export class OciSourceClient implements SourceClient {
  readonly schemes = ['oci'] as const;
  private readonly registry: RegistryClient;
  private readonly platform: string;
  private readonly maxManifestBytes: number;
  private readonly push: RegistryPush;

  constructor(options: OciSourceOptions = {}) {
    this.registry = new RegistryClient({
      credentials: options.credentials ?? new Map(),
      insecureRegistries: new Set([...(options.insecureRegistries ?? [])].map((r) => r.toLowerCase())),
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRedirections: options.maxRedirections ?? 5,
      logger: options.logger,
    });
    this.platform = options.platform ?? hostPlatform();
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.push = new RegistryPush(this.registry, {
      monolithicMaxBytes: options.monolithicUploadMaxBytes ?? 512 * 1024 * 1024, chunkBytes: options.uploadChunkBytes ?? 8 * 1024 * 1024,
    });
  }

  async stat(req: SourceRequest): Promise<SourceStat> {
    const ref = parseOciUrl(req.url);
    notRepository(ref, req.url);
    if (ref.blob) {
      const res = await this.registry.send({ ref, method: 'HEAD', path: `blobs/${ref.blob}`, authorization: callerAuthorization(req), signal: req.signal, what: 'blob' });
      await res.body.dump();
      const length = Number(header(res.headers, 'content-length'));
      return {
        url: req.url, contentLength: Number.isFinite(length) ? length : undefined, supportsRange: true,
        digest: ref.blob, contentType: header(res.headers, 'content-type'), etag: header(res.headers, 'etag'),
      };
    }
    const doc = await this.document(ref, req);
    return { url: req.url, contentLength: doc.bytes.length, supportsRange: true, digest: doc.digest, contentType: doc.mediaType };
  }

  async download(req: DownloadRequest): Promise<SourceDownload> {
    const ref = parseOciUrl(req.url);
    notRepository(ref, req.url);
    if (ref.blob) return this.downloadBlob(ref, req);
    const doc = await this.document(ref, req);
    const { start, length } = req.range ?? { start: 0, length: doc.bytes.length };
    if (start < 0 || length < 0 || start + length > doc.bytes.length) {
      throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED', `range ${start}+${length} is outside ${describeOciUrl(ref)} (${doc.bytes.length} bytes)`, { fix: 'request a range inside the object' });
    }
    return { stream: Readable.from([doc.bytes.subarray(start, start + length)]), contentLength: length, headers: { 'content-type': doc.mediaType } };
  }

  /**
   * A repository URL (`oci://reg/repo/`) lists its tags as directories. An image URL (tag or
   * digest) lists what an OCI image layout of it holds: `oci-layout`, `index.json` (naming the
   * tag), and `blobs/sha256/<hex>` for the platform manifest, its config and its layers. With
   * the platform `all` (`?platform=all` or the request option), every platform of the index as
   * the registry holds it, each entry with its `mediaType` and `phase` (see listEveryPlatform).
   */
  async *list(req: ListRequest): AsyncIterable<SourceEntry> {
    const ref = parseOciUrl(req.url);
    if (ref.blob || ref.layout) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${describeOciUrl(ref)} is a single object, not a listing`, { fix: 'list an image (oci://reg/repo:tag) or a repository (oci://reg/repo/)' });
    }
    if (ref.repositoryOnly) {
      yield* this.listTags(ref, req);
      return;
    }
    if ((ref.platform ?? req.options?.platform) === ALL_PLATFORMS) {
      const top = await this.fetchManifest(ref, ref.digest ?? ref.tag!, req.signal);
      yield* listEveryPlatform(ref, top, (digest) => this.fetchManifest(ref, digest, req.signal));
      return;
    }
    const image = await this.resolveImage(ref, req);
    const manifest = image.doc as unknown as ImageManifest;
    const layout = Buffer.from(LAYOUT_FILE);
    const stored = layoutManifest(image);
    const index = indexJson(stored.mediaType, stored.digest, stored.bytes.length, ref.tag);
    const manifestUrl = stored === image ? ociManifestUrl(ref, image.digest) : ociManifestUrl(ref, image.digest, 'oci-manifest');
    yield { url: ociManifestUrl(ref, image.digest, 'oci-layout'), path: 'oci-layout', isDirectory: false, contentLength: layout.length, digest: sha256(layout), phase: 2 };
    yield { url: ociManifestUrl(ref, image.digest, 'index.json', ref.tag), path: 'index.json', isDirectory: false, contentLength: index.length, digest: sha256(index), phase: 2 };
    yield { url: manifestUrl, path: blobPath(stored.digest), isDirectory: false, contentLength: stored.bytes.length, digest: stored.digest, mediaType: stored.mediaType, phase: 1 };
    const seen = new Set<string>([stored.digest]);
    for (const d of [manifest.config, ...(manifest.layers ?? [])]) {
      if (!d || seen.has(d.digest)) continue;
      seen.add(d.digest);
      yield { url: ociBlobUrl(ref, d.digest), path: blobPath(d.digest), isDirectory: false, contentLength: d.size, digest: d.digest, mediaType: d.mediaType, phase: 0 };
    }
  }

  /**
   * Stores an object in a registry: a blob URL (`…/blobs/sha256:<hex>`) is uploaded (the registry
   * checks the digest); a manifest by digest is checked against it and stored under the media
   * type `req.contentType` (else its own `mediaType`); a tag URL stores the manifest as that tag.
   */
  async put(req: PutRequest, body: Readable): Promise<void> {
    try {
      const ref = parseOciUrl(req.url);
      if (ref.repositoryOnly || ref.layout) {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `${req.url} cannot be written: name a blob, a manifest digest or a tag`, { fix: `write to oci://${ref.registry}/${ref.repository}:<tag>` });
      }
      if (ref.blob) {
        await this.push.blob(ref, ref.blob, body, req.contentLength, req.signal);
        return;
      }
      const name = `manifest ${describeOciUrl(ref)}`;
      const bytes = await readLimited(body, this.maxManifestBytes, name, req.signal);
      if (ref.digest && sha256(bytes) !== ref.digest) {
        throw new D7yError('D7Y_DIGEST_MISMATCH', `${name}: the bytes to store have the digest ${sha256(bytes)}`, { fix: 'the copy is corrupt; run it again', details: { expected: ref.digest, got: sha256(bytes) } });
      }
      const mediaType = req.contentType ?? mediaTypeOf(bytes);
      if (!mediaType) throw new D7yError('D7Y_INVALID_ARGUMENT', `${name} has no mediaType and none was given`, { fix: 'give the manifest\'s media type' });
      await this.push.manifest(ref, ref.digest ?? ref.tag!, bytes, mediaType, req.signal);
    } catch (err) {
      body.destroy();
      throw err;
    }
  }

  /**
   * The URL a task id should be computed from: `ociBlobTaskKey(url)` for content-addressed URLs
   * (the same blob from any registry is one task), `undefined` otherwise (use the URL itself).
   */
  taskKey(url: string): string | undefined {
    return ociBlobTaskKey(url);
  }

  async close(): Promise<void> {
    await this.registry.close();
  }

  private async *listTags(ref: OciUrl, req: ListRequest): AsyncIterable<SourceEntry> {
    const res = await this.registry.send({ ref, method: 'GET', path: 'tags/list', headers: { accept: 'application/json' }, signal: req.signal, what: 'tag list of' });
    const body = (await res.body.json()) as { tags?: string[] | null };
    for (const tag of [...(body.tags ?? [])].sort()) {
      yield { url: ociTagUrl(ref, tag), path: tag, isDirectory: true };
    }
  }

  private async downloadBlob(ref: OciUrl, req: DownloadRequest): Promise<SourceDownload> {
    const headers: Record<string, string> = {};
    if (req.range) headers.range = `bytes=${req.range.start}-${req.range.start + req.range.length - 1}`;
    const res = await this.registry.send({ ref, method: 'GET', path: `blobs/${ref.blob}`, headers, authorization: callerAuthorization(req), signal: req.signal, what: 'blob' });
    const name = `blob ${describeOciUrl(ref)}`;
    if (req.range && res.statusCode !== 206) {
      await res.body.dump();
      throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED', `registry ${ref.registry} ignored the range request for ${name} (HTTP ${res.statusCode})`, { fix: 'download the whole blob' });
    }
    const length = Number(header(res.headers, 'content-length'));
    const contentLength = Number.isFinite(length) ? length : undefined;
    const verifier = req.range ? undefined : new DigestVerifier(ref.blob!, name, contentLength);
    return { stream: abortableStream(res.body, verifier, req.signal, name), contentLength, headers: pick(res.headers) };
  }

  /** The bytes a non-blob URL stands for: a manifest, or a synthetic layout file. */
  private async document(ref: OciUrl, req: SourceRequest): Promise<FetchedManifest> {
    if (ref.layout === 'oci-layout') {
      const bytes = Buffer.from(LAYOUT_FILE);
      return { digest: sha256(bytes), mediaType: LAYOUT_MEDIA_TYPE, bytes, doc: {} };
    }
    if (ref.layout === 'oci-manifest') return layoutManifest(await this.fetchManifest(ref, ref.digest!, req.signal));
    if (ref.layout === 'index.json') {
      const fetched = await this.fetchManifest(ref, ref.digest!, req.signal);
      const target = ref.platform === ALL_PLATFORMS ? fetched : layoutManifest(fetched);
      const bytes = indexJson(target.mediaType, target.digest, target.bytes.length, ref.refName);
      return { digest: sha256(bytes), mediaType: LAYOUT_MEDIA_TYPE, bytes, doc: {} };
    }
    return ref.digest ? this.fetchManifest(ref, ref.digest, req.signal) : this.resolveImage(ref, req);
  }

  /** The image manifest `ref` names for the chosen platform (through an index when there is one; the index itself for `all`). */
  private async resolveImage(ref: OciUrl, req: SourceRequest): Promise<FetchedManifest> {
    const top = await this.fetchManifest(ref, ref.digest ?? ref.tag!, req.signal);
    const platform = ref.platform ?? req.options?.platform ?? this.platform;
    if (!isIndex(top.mediaType, top.doc) || platform === ALL_PLATFORMS) return top;
    const chosen = choosePlatform(top.doc as unknown as ImageIndex, platform, describeOciUrl(ref));
    return this.fetchManifest(ref, chosen.digest, req.signal);
  }

  private async fetchManifest(ref: OciUrl, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const target: OciUrl = reference.startsWith('sha256:') ? { ...ref, tag: undefined, digest: reference } : { ...ref, tag: reference };
    const res = await this.registry.send({ ref: target, method: 'GET', path: `manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, signal, what: 'manifest' });
    const bytes = await readLimited(res.body, this.maxManifestBytes, `manifest ${describeOciUrl(target)}`, signal);
    const digest = sha256(bytes);
    if (target.digest && digest !== target.digest) {
      throw new D7yError('D7Y_DIGEST_MISMATCH', `manifest ${describeOciUrl(target)}: the registry sent bytes whose digest is ${digest}`, { fix: 'the registry serves a corrupt manifest; check the registry', details: { expected: target.digest, got: digest } });
    }
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new D7yError('D7Y_SOURCE_ERROR', `manifest ${describeOciUrl(target)} is not JSON`, { cause: err, fix: 'check the registry' });
    }
    const contentType = header(res.headers, 'content-type')?.split(';')[0]?.trim();
    const mediaType = (typeof doc.mediaType === 'string' ? doc.mediaType : undefined) ?? contentType ?? MEDIA_TYPES.ociManifest;
    return { digest, mediaType, bytes, doc };
  }
}

/** The manifest as an OCI image layout stores it: as it is, or converted to OCI when it is a Docker v2 manifest. */
function layoutManifest(m: FetchedManifest): FetchedManifest {
  if (m.mediaType !== MEDIA_TYPES.dockerManifest) return m;
  const bytes = dockerToOciManifest(m.doc);
  return { digest: sha256(bytes), mediaType: MEDIA_TYPES.ociManifest, bytes, doc: JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
}

function mediaTypeOf(bytes: Buffer): string | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    return typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  } catch {
    return undefined;
  }
}

function notRepository(ref: OciUrl, url: string): void {
  if (ref.repositoryOnly) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${url} names a repository, which has no content of its own`, { fix: 'name a tag (oci://reg/repo:tag) or list the repository' });
  }
}

function pick(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['content-type', 'etag', 'docker-content-digest', 'content-range']) {
    const v = header(headers, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The `Authorization` header a request carries (a registry mirror passes its client's on). */
function callerAuthorization(req: SourceRequest): string | undefined {
  const found = Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization');
  return found?.[1];
}
