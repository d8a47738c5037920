import { D7yError, type D7yErrorCode } from '../../core/index.js';

const AUTH_CODES = new Set([
  'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'ExpiredToken', 'InvalidToken',
  'TokenRefreshRequired', 'AllAccessDisabled', 'AccountProblem', 'CredentialsProviderError', 'Unauthorized',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

/** Where an S3 call went wrong: `s3://bucket/key` and the operation, for the message. */
export interface S3ErrorContext {
  url: string;
  bucket: string;
  operation: string;
  /** Values that must never appear in a message (secret key, session token). */
  secrets: readonly string[];
}

/** The origin's error code of an SDK error (`NoSuchKey`, `AccessDenied`, …), or undefined. */
export function s3ErrorCode(err: unknown): string | undefined {
  const e = err as { name?: string; Code?: string; code?: string };
  return e?.Code ?? (e?.name && e.name !== 'Error' ? e.name : undefined) ?? e?.code;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** Maps an S3 SDK error to a D7yError naming the scheme, bucket/key and the origin's error code. */
export function toS3Error(err: unknown, ctx: S3ErrorContext, signal?: AbortSignal): D7yError {
  if (err instanceof D7yError) return err;
  if (signal?.aborted || (err as { name?: string })?.name === 'AbortError') {
    return new D7yError('D7Y_ABORTED', `${ctx.operation} ${ctx.url} was aborted`, { cause: err });
  }
  const code = s3ErrorCode(err) ?? 'UnknownError';
  const status = statusOf(err);
  const origin = redact(err instanceof Error ? err.message : String(err), ctx.secrets);
  const what = `${ctx.operation} ${ctx.url} failed: ${code}${status ? ` (HTTP ${status})` : ''}`;
  const details = { scheme: 's3', bucket: ctx.bucket, url: ctx.url, originCode: code, status };
  let d7y: D7yErrorCode = 'D7Y_SOURCE_ERROR';
  let fix = 'check the S3 endpoint and the object, then retry';
  if (code === 'NoSuchBucket') {
    d7y = 'D7Y_SOURCE_NOT_FOUND';
    fix = `check the bucket name "${ctx.bucket}" and the endpoint/region`;
  } else if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) {
    d7y = 'D7Y_SOURCE_NOT_FOUND';
    fix = 'check the key; S3 keys are case-sensitive';
  } else if (AUTH_CODES.has(code) || status === 403 || status === 401) {
    d7y = 'D7Y_SOURCE_AUTH';
    fix = 'check the access key id and secret (--storage-access-key-id/--storage-access-key-secret, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the plugin config) and the bucket policy';
  } else if (code === 'InvalidRange' || status === 416) {
    d7y = 'D7Y_SOURCE_RANGE_UNSUPPORTED';
    fix = 'the range lies outside the object; stat it again, it may have changed';
  } else if (NETWORK_CODES.has(code) || (status !== undefined && status >= 500)) {
    d7y = 'D7Y_SOURCE_UNAVAILABLE';
    fix = 'check that the S3 endpoint is reachable, then retry';
  }
  return new D7yError(d7y, `${what}: ${origin}`, { fix, cause: err, details });
}

/** Replaces every occurrence of each secret in `text` with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
