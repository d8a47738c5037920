import { D7yError } from '../../core/index.js';

/**
 * A module loaded on first use and kept: the AWS SDK is large, and a process whose tasks never
 * read s3:// should not pay for it. A failed load is D7Y_MISSING_DEPENDENCY and is tried again
 * on the next call.
 */
function lazyImport<T>(name: string, load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => pending ??= load().catch((err: unknown) => {
    pending = undefined;
    throw new D7yError('D7Y_MISSING_DEPENDENCY', `the s3 source cannot load ${name}: ${err instanceof Error ? err.message : String(err)}`, {
      fix: 'reinstall d7y with its dependencies (npm ci), or disable the s3 plugin in plugins.json', cause: err,
    });
  });
}

/** `@aws-sdk/client-s3`, loaded on the first S3 call. */
export const loadS3Sdk = lazyImport('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'));

/** `@aws-sdk/lib-storage` (multipart upload), loaded on the first `put`. */
export const loadS3Upload = lazyImport('@aws-sdk/lib-storage', () => import('@aws-sdk/lib-storage'));
