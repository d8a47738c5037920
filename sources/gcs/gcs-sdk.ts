import { D7yError } from '../../core/index.js';

/**
 * A module loaded on first use and kept: the GCS library is large, and a process whose tasks never
 * read gs:// should not pay for it. A failed load is D7Y_MISSING_DEPENDENCY and is tried again on
 * the next call.
 */
function lazyImport<T>(name: string, load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => pending ??= load().catch((err: unknown) => {
    pending = undefined;
    throw new D7yError('D7Y_MISSING_DEPENDENCY', `the gcs source cannot load ${name}: ${err instanceof Error ? err.message : String(err)}`, {
      fix: 'reinstall d7y with its dependencies (npm ci), or disable the gcs plugin in plugins.json', cause: err,
    });
  });
}

/** `@google-cloud/storage`, loaded on the first GCS call. */
export const loadGcsSdk = lazyImport('@google-cloud/storage', () => import('@google-cloud/storage'));

/** `google-auth-library`, loaded on the first call with a static access token. */
export const loadGoogleAuth = lazyImport('google-auth-library', () => import('google-auth-library'));
