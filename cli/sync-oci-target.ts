import { Readable } from 'node:stream';
import { D7yError } from '../core/errors/d7y-error.js';
import { readLimited } from '../core/index.js';
import type { SourceClient, SourceEntry } from '../core/contracts/source-client.js';
import type { SyncTarget } from '../core/index.js';

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json',
]);
const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;
const MAX_INDEX_JSON = 1024 * 1024;

/**
 * An OCI registry, `oci://<registry>/<repository>[:<tag>]`, written through the oci plugin from
 * the listing of an image with every platform (an OCI image layout of the registry's own bytes):
 * each blob is uploaded, each manifest and index stored by digest (the listing's phases put each
 * one after what it refers to), and `index.json` last stores the top manifest as the tag (the
 * destination's, else the source's). What the registry already holds (a HEAD of the blob, a GET
 * of the manifest) is recorded without being read. Nothing is ever removed from a registry.
 */
export class OciTarget implements SyncTarget {
  private readonly base: string;
  private readonly tag?: string;
  private readonly query: string;

  constructor(readonly name: string, private readonly client: SourceClient) {
    const m = /^oci:\/\/([^/?#]+)\/([^?#@]*?)(?::([\w][\w.-]{0,127}))?(\?[^#]*)?$/i.exec(name);
    if (!m || !m[2] || m[2].endsWith('/')) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${name} is not an image to write: give oci://<registry>/<repository>[:<tag>]`, {
        fix: 'name the destination repository and, if it should differ from the source\'s, the tag (oci://registry:5000/team/app:v1)',
      });
    }
    this.base = `oci://${m[1]}/${m[2]}`;
    this.tag = m[3];
    this.query = m[4] ?? '';
    if (!client.put) throw new D7yError('D7Y_INVALID_ARGUMENT', 'the oci source plugin in use cannot write', { fix: 'use the built-in oci plugin' });
  }

  /** Refuses `--delete`: a registry's blobs may be shared by other tags, so a sync never removes any. */
  checkDelete(): void {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--delete cannot apply to the registry ${this.name}: its blobs and manifests may be shared with other tags`, {
      fix: 'drop --delete (the tag is moved to the new image; old blobs go with the registry\'s garbage collection)',
    });
  }

  private urlOf(entry: SourceEntry): string | undefined {
    const hex = BLOB_PATH.exec(entry.path)?.[1];
    if (!hex) return undefined;
    return MANIFEST_TYPES.has(entry.mediaType ?? '') ? `${this.base}@sha256:${hex}${this.query}` : `${this.base}/blobs/sha256:${hex}${this.query}`;
  }

  async has(entry: SourceEntry): Promise<boolean> {
    if (entry.path === 'oci-layout') return true;
    const url = this.urlOf(entry);
    if (!url) return false;
    try {
      await this.client.stat({ url });
      return true;
    } catch (err) {
      if (err instanceof D7yError && err.code === 'D7Y_SOURCE_NOT_FOUND') return false;
      throw err;
    }
  }

  async write(entry: SourceEntry, body: Readable, signal: AbortSignal): Promise<void> {
    if (entry.path === 'oci-layout') {
      await readLimited(body, MAX_INDEX_JSON, entry.path);
      return;
    }
    if (entry.path === 'index.json') return this.writeTag(body, signal);
    const url = this.urlOf(entry);
    if (!url) {
      body.destroy();
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${entry.path} has no place in a registry`, { fix: 'sync an OCI image (oci://registry/repository:tag) to a registry' });
    }
    await this.client.put!({ url, contentLength: entry.contentLength, contentType: MANIFEST_TYPES.has(entry.mediaType ?? '') ? entry.mediaType : undefined, signal }, body);
  }

  /** `index.json` names the image's top manifest: stored (from the destination's copy) as the tag. */
  private async writeTag(body: Readable, signal: AbortSignal): Promise<void> {
    const index = JSON.parse((await readLimited(body, MAX_INDEX_JSON, 'index.json')).toString('utf8')) as {
      manifests?: { digest?: string; mediaType?: string; annotations?: Record<string, string> }[];
    };
    const top = index.manifests?.[0];
    const tag = this.tag ?? top?.annotations?.['org.opencontainers.image.ref.name'];
    if (!top?.digest || !top.mediaType || !tag) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `the source names no tag to store at ${this.name}`, { fix: 'give the destination a tag: oci://<registry>/<repository>:<tag>' });
    }
    const manifest = await this.client.download({ url: `${this.base}@${top.digest}${this.query}`, signal });
    const bytes = await readLimited(manifest.stream, 64 * 1024 * 1024, `manifest ${top.digest}`);
    await this.client.put!({ url: `${this.base}:${tag}${this.query}`, contentLength: bytes.length, contentType: top.mediaType, signal }, Readable.from([bytes]));
  }

  async remove(): Promise<void> {
    this.checkDelete();
  }

  async holds(): Promise<boolean> {
    return true;
  }
}
