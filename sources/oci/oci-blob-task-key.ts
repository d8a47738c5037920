import { parseOciUrl } from './oci-url.js';

/**
 * A registry-independent identity for content-addressed `oci://` URLs: a blob URL gives
 * `oci://blobs/sha256:<hex>` and a manifest-by-digest URL gives `oci://manifests/sha256:<hex>`,
 * whatever the registry, mirror or repository. Tag URLs and synthetic layout files are not
 * content-addressed and give `undefined`. The peer computes the task id from
 * `ociBlobTaskKey(url) ?? url`, and still goes back to the source with the original URL.
 * Throws D7Y_INVALID_ARGUMENT for a malformed `oci://` URL.
 */
export function ociBlobTaskKey(url: string): string | undefined {
  const ref = parseOciUrl(url);
  if (ref.blob) return `oci://blobs/${ref.blob}`;
  if (ref.digest && !ref.layout) return `oci://manifests/${ref.digest}`;
  return undefined;
}
