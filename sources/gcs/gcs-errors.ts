import { D7yError, type D7yErrorCode } from '../../core/index.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

/** What went wrong where, for the message: the `gs://` URL, the bucket and the operation. */
export interface GcsErrorContext {
  url: string;
  bucket: string;
  operation: string;
  /** Values that must never appear in a message (an access token). */
  secrets: readonly string[];
}

interface ApiErrorLike {
  code?: number | string;
  message?: string;
  errors?: Array<{ reason?: string }>;
}

/** Maps a @google-cloud/storage error to a D7yError naming `gs://bucket/object`, GCS's reason and HTTP status. */
export function toGcsError(err: unknown, ctx: GcsErrorContext, signal?: AbortSignal): D7yError {
  if (err instanceof D7yError) return err;
  if (signal?.aborted || (err as { name?: string })?.name === 'AbortError') {
    return new D7yError('D7Y_ABORTED', `${ctx.operation} ${ctx.url} was aborted`, { cause: err });
  }
  const e = (err ?? {}) as ApiErrorLike;
  const status = typeof e.code === 'number' ? e.code : undefined;
  const reason = e.errors?.[0]?.reason ?? (typeof e.code === 'string' ? e.code : undefined) ?? 'unknown';
  const origin = redact(e.message ?? String(err), ctx.secrets);
  let code: D7yErrorCode = 'D7Y_SOURCE_ERROR';
  let fix = 'check the GCS endpoint and the object, then retry';
  if (status === 404) {
    code = 'D7Y_SOURCE_NOT_FOUND';
    fix = /bucket/i.test(origin) ? `check the bucket name "${ctx.bucket}"` : 'check the object name; GCS names are case-sensitive';
  } else if (status === 401 || status === 403) {
    code = 'D7Y_SOURCE_AUTH';
    fix = 'check the credentialFile of the gcs plugin (plugins.json), or the access token given with --storage-session-token, and the bucket IAM permissions';
  } else if (status === 416) {
    code = 'D7Y_SOURCE_RANGE_UNSUPPORTED';
    fix = 'the range lies outside the object; stat it again, it may have changed';
  } else if (NETWORK_CODES.has(String(e.code)) || (status !== undefined && status >= 500)) {
    code = 'D7Y_SOURCE_UNAVAILABLE';
    fix = 'check that the GCS endpoint is reachable, then retry';
  } else if (/credential|private key|keyfile|ENOENT/i.test(origin)) {
    code = 'D7Y_SOURCE_AUTH';
    fix = 'check the credentials file path and that it holds a service-account JSON key';
  }
  return new D7yError(code, `${ctx.operation} ${ctx.url} failed: ${reason}${status ? ` (HTTP ${status})` : ''}: ${origin}`, {
    fix, cause: err, details: { scheme: 'gs', bucket: ctx.bucket, url: ctx.url, originCode: reason, status },
  });
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
