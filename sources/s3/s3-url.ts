import { D7yError } from '../../core/index.js';

/** A parsed `s3://bucket/key` URL. `key` is decoded; it is empty for the bucket root. */
export interface S3Location {
  bucket: string;
  key: string;
}

/** Parses `s3://bucket/key` (the key percent-decoded); refuses anything else with D7Y_INVALID_ARGUMENT. */
export function parseS3Url(url: string): S3Location {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(url);
  }
  if (parsed.protocol !== 's3:' || !parsed.hostname) throw invalid(url);
  let key: string;
  try {
    key = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  } catch {
    throw invalid(url);
  }
  return { bucket: parsed.hostname, key };
}

/** The URL of `key` in `bucket`, each path segment percent-encoded, so `parseS3Url` gives the key back. */
export function s3UrlOf(bucket: string, key: string): string {
  return `s3://${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** The listing prefix for a URL: the key with a trailing `/` (empty for the bucket root). */
export function prefixOf(key: string): string {
  return key === '' || key.endsWith('/') ? key : `${key}/`;
}

function invalid(url: string): D7yError {
  return new D7yError('D7Y_INVALID_ARGUMENT', `"${url}" is not an S3 URL`, {
    fix: 'write it as s3://<bucket>/<key>',
  });
}
