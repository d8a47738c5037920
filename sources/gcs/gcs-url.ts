import { D7yError } from '../../core/index.js';

/** A parsed `gs://bucket/object` URL; `object` is decoded and empty for the bucket root. */
export interface GcsLocation {
  bucket: string;
  object: string;
}

/** Parses `gs://bucket/object` (percent-decoded); refuses anything else with D7Y_INVALID_ARGUMENT. */
export function parseGcsUrl(url: string): GcsLocation {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.protocol !== 'gs:' || !parsed.hostname) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${url}" is not a GCS URL`, { fix: 'write it as gs://<bucket>/<object>' });
  }
  let object: string;
  try {
    object = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  } catch {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${url}" has a malformed %-escape`, { fix: 'percent-encode the object name' });
  }
  return { bucket: parsed.hostname, object };
}

/** The URL of `object` in `bucket`, each segment percent-encoded, so `parseGcsUrl` gives it back. */
export function gcsUrlOf(bucket: string, object: string): string {
  return `gs://${bucket}/${object.split('/').map(encodeURIComponent).join('/')}`;
}
