import { D7yError } from '../../../errors/d7y-error.js';
import type { SourceRouter } from '../../../registry/source-router.js';

const MAX_LAYERS = 1000;
const RESOLVE_TIMEOUT_MS = 60_000;

/**
 * `https://<registry>/v2/<repo>/manifests/<ref>` (Dragonfly's preheat form) as an `oci://` URL;
 * `oci://` URLs are kept. Plain-http registries get `insecure=true`.
 */
export function toOciUrl(manifestUrl: string, platform?: string): string {
  let out = manifestUrl;
  if (!manifestUrl.startsWith('oci://')) {
    const u = new URL(manifestUrl);
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(u.pathname);
    if (!m || !/^https?:$/.test(u.protocol)) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `"${u.origin}${u.pathname}" is not an image manifest URL`, {
        fix: 'give oci://<registry>/<repo>:<tag> or https://<registry>/v2/<repo>/manifests/<tag|digest>',
      });
    }
    const ref = m[2]!.startsWith('sha256:') ? `@${m[2]}` : `:${m[2]}`;
    out = `oci://${u.host}/${m[1]}${ref}${u.protocol === 'http:' ? '?insecure=true' : ''}`;
  }
  if (platform) out += `${out.includes('?') ? '&' : '?'}platform=${encodeURIComponent(platform)}`;
  return out;
}

/** Resolves an image to the URLs of its manifest, config and layers through the loaded `oci` source. */
export class ImageResolver {
  constructor(private readonly sources: SourceRouter) {}

  async blobUrls(manifestUrl: string, opts: { platform?: string; headers?: Record<string, string> } = {}): Promise<string[]> {
    if (!this.sources.has('oci')) {
      throw new D7yError('D7Y_SOURCE_UNSUPPORTED_SCHEME', 'an image preheat needs the oci source plugin, which this manager has not loaded', {
        fix: 'enable the oci plugin for the manager role in plugins.json, or preheat the layer URLs as files',
      });
    }
    const url = toOciUrl(manifestUrl, opts.platform);
    const urls: string[] = [];
    const client = this.sources.resolve(url);
    if (!client.list) throw new D7yError('D7Y_SOURCE_UNSUPPORTED_SCHEME', 'the loaded oci source cannot list images', { fix: 'update the oci plugin' });
    for await (const e of client.list({ url, headers: opts.headers, signal: AbortSignal.timeout(RESOLVE_TIMEOUT_MS) })) {
      if (e.isDirectory || e.path === 'oci-layout' || e.path === 'index.json') continue;
      urls.push(e.url);
      if (urls.length > MAX_LAYERS) {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `image ${manifestUrl} has more than ${MAX_LAYERS} blobs`, { fix: 'preheat fewer layers as files' });
      }
    }
    return urls;
  }
}
