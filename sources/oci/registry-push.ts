import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { D7yError } from '../../core/index.js';
import { describeOciUrl, type OciUrl } from './oci-url.js';
import { header, type RegistryClient } from './registry-client.js';

export interface RegistryPushOptions {
  /** Blobs of a known size up to this many bytes go in one streamed PUT; larger or unknown sizes in chunks. */
  monolithicMaxBytes: number;
  /** Bytes per PATCH of a chunked upload (raised to the registry's `OCI-Chunk-Min-Length`); one chunk is held in memory. */
  chunkBytes: number;
}

/**
 * Pushes to a registry as the OCI distribution spec's push section says: a blob is a session
 * opened with `POST /v2/<name>/blobs/uploads/`, then either one `PUT <location>?digest=` carrying
 * the whole blob (monolithic) or `PATCH`es with `Content-Range` followed by a closing `PUT`
 * (chunked); the registry checks the digest. A manifest is one `PUT /v2/<name>/manifests/<ref>`
 * with its media type. A failed upload session is cancelled (best effort).
 */
export class RegistryPush {
  constructor(private readonly registry: RegistryClient, private readonly options: RegistryPushOptions) {}

  /** Uploads `body` (exactly `size` bytes when known) as the blob `digest` of `ref`'s repository. */
  async blob(ref: OciUrl, digest: string, body: Readable, size: number | undefined, signal?: AbortSignal): Promise<void> {
    const target: OciUrl = { ...ref, tag: undefined, digest: undefined, blob: digest };
    const what = 'blob upload of';
    const send = (r: { method: 'PUT' | 'PATCH'; location: string; body?: Buffer | Readable; headers: Record<string, string> }) =>
      this.registry.send({ ref: target, path: '', push: true, signal, what, ...r });
    const opened = await this.registry.send({ ref: target, method: 'POST', path: 'blobs/uploads/', push: true, headers: { 'content-length': '0' }, signal, what });
    await opened.body.dump();
    let location = locationOf(opened, target);
    try {
      if (size !== undefined && size <= this.options.monolithicMaxBytes) {
        await drained(send({ method: 'PUT', location: withDigest(location, digest), body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } }));
        return;
      }
      const chunkBytes = Math.max(this.options.chunkBytes, Number(header(opened.headers, 'oci-chunk-min-length')) || 0);
      let offset = 0;
      for await (const chunk of chunksOf(body, chunkBytes)) {
        const res = await send({
          method: 'PATCH', location, body: chunk,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length), 'content-range': `${offset}-${offset + chunk.length - 1}` },
        });
        await res.body.dump();
        location = locationOf(res, target);
        offset += chunk.length;
      }
      await drained(send({ method: 'PUT', location: withDigest(location, digest), headers: { 'content-length': '0' } }));
    } catch (err) {
      body.destroy();
      void this.registry.send({ ref: target, method: 'DELETE', path: '', location, push: true, what: 'cancel of the upload of' })
        .then((r) => r.body.dump(), () => undefined);
      throw err;
    }
  }

  /** Stores `bytes` as the manifest (or index) `reference` (a digest or a tag) of `ref`'s repository. */
  async manifest(ref: OciUrl, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<void> {
    const target: OciUrl = reference.startsWith('sha256:') ? { ...ref, tag: undefined, digest: reference } : { ...ref, digest: undefined, tag: reference };
    await drained(this.registry.send({
      ref: target, method: 'PUT', path: `manifests/${reference}`, body: bytes, push: true, signal, what: 'manifest push of',
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    }));
  }
}

async function drained(res: Promise<Dispatcher.ResponseData>): Promise<void> {
  await (await res).body.dump();
}

function locationOf(res: Dispatcher.ResponseData, ref: OciUrl): string {
  const location = header(res.headers, 'location');
  if (!location) {
    throw new D7yError('D7Y_SOURCE_ERROR', `registry ${ref.registry} opened no upload location for ${describeOciUrl(ref)} (HTTP ${res.statusCode} without Location)`, {
      fix: 'check that the registry speaks the OCI distribution API and accepts pushes', details: { registry: ref.registry, status: res.statusCode },
    });
  }
  return location;
}

/** The upload location with `digest=` added to whatever query the registry put there. */
function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** The stream cut into buffers of `size` bytes (the last one shorter); one buffer is held at a time. */
async function* chunksOf(body: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const data of body) {
    let buf = data as Buffer;
    while (held + buf.length >= size) {
      const take = size - held;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts);
      buf = buf.subarray(take);
      parts = [];
      held = 0;
    }
    if (buf.length > 0) {
      parts.push(buf);
      held += buf.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts);
}
