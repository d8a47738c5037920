import { createHash } from 'node:crypto';
import { D7yError, type SourceEntry } from '../../core/index.js';
import { isIndex, type ImageIndex, type ImageManifest } from './oci-manifest.js';
import { ALL_PLATFORMS, describeOciUrl, ociBlobUrl, ociManifestUrl, type OciUrl } from './oci-url.js';

/** A manifest read from the registry: its exact bytes, digest and media type. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  doc: Record<string, unknown>;
}

/** The `oci-layout` file of every image layout. */
export const LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

/** Nested indexes followed below the top one. */
const MAX_DEPTH = 4;

/** The `index.json` of a layout holding one descriptor, annotated with the tag when there is one. */
export function indexJson(mediaType: string, digest: string, size: number, refName?: string): Buffer {
  const descriptor: Record<string, unknown> = { mediaType, digest, size };
  if (refName) descriptor.annotations = { 'org.opencontainers.image.ref.name': refName };
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [descriptor] }));
}

export function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * The image `top` with every platform, as an OCI image layout of the registry's own bytes (no
 * conversion, so every digest stays): each config and layer (phase 0), each image manifest
 * (phase 1), each index above them (one phase higher than what it lists), then `oci-layout` and
 * `index.json` naming the tag (the last phase). Manifests carry their `mediaType`, so a registry
 * sink can store them as manifests.
 */
export async function* listEveryPlatform(ref: OciUrl, top: FetchedManifest, fetch: (digest: string) => Promise<FetchedManifest>): AsyncGenerator<SourceEntry> {
  const phases = new Map<string, number>();
  async function* walk(m: FetchedManifest, depth: number): AsyncGenerator<SourceEntry, number> {
    const known = phases.get(m.digest);
    if (known !== undefined) return known;
    let phase = 1;
    if (isIndex(m.mediaType, m.doc)) {
      if (depth >= MAX_DEPTH) {
        throw new D7yError('D7Y_SOURCE_ERROR', `${describeOciUrl(ref)} nests image indexes more than ${MAX_DEPTH} deep`, { fix: 'copy one of its platforms with ?platform=<os>/<arch>' });
      }
      let highest = 0;
      for (const d of (m.doc as unknown as ImageIndex).manifests ?? []) highest = Math.max(highest, yield* walk(await fetch(d.digest), depth + 1));
      phase = highest + 1;
    } else {
      const image = m.doc as unknown as ImageManifest;
      for (const d of [image.config, ...(image.layers ?? [])]) {
        if (!d || phases.has(d.digest)) continue;
        phases.set(d.digest, 0);
        yield { url: ociBlobUrl(ref, d.digest), path: blobPath(d.digest), isDirectory: false, contentLength: d.size, digest: d.digest, mediaType: d.mediaType, phase: 0 };
      }
    }
    phases.set(m.digest, phase);
    yield { url: ociManifestUrl(ref, m.digest), path: blobPath(m.digest), isDirectory: false, contentLength: m.bytes.length, digest: m.digest, mediaType: m.mediaType, phase };
    return phase;
  }
  const last = (yield* walk(top, 0)) + 1;
  const layout = Buffer.from(LAYOUT_FILE);
  const index = indexJson(top.mediaType, top.digest, top.bytes.length, ref.tag);
  yield { url: ociManifestUrl(ref, top.digest, 'oci-layout'), path: 'oci-layout', isDirectory: false, contentLength: layout.length, digest: sha256(layout), phase: last };
  yield {
    url: ociManifestUrl(ref, top.digest, 'index.json', ref.tag, ALL_PLATFORMS), path: 'index.json', isDirectory: false,
    contentLength: index.length, digest: sha256(index), mediaType: 'application/vnd.oci.image.index.v1+json', phase: last,
  };
}
