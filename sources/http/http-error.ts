import { STATUS_CODES } from 'node:http';
import { D7yError, type D7yErrorCode } from '../../core/index.js';
import { originTlsError } from './origin-tls.js';
import { redactUrl } from './redact-url.js';

/** Error codes of undici/node that mean the origin could not be reached or dropped the connection. */
const RETRYABLE_NETWORK = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** Whether a status is worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** Whether a failure before the response is worth another attempt. */
export function isRetryableNetworkError(err: unknown): boolean {
  return RETRYABLE_NETWORK.has(networkCode(err) ?? '');
}

/** The D7yError for a final HTTP status from the origin; the message names the URL, status and reason. */
export function httpStatusError(method: string, url: string, status: number, attempts = 1): D7yError {
  const where = `${method} ${redactUrl(url)}`;
  const reason = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  const [code, fix]: [D7yErrorCode, string] =
    status === 404 || status === 410 ? ['D7Y_SOURCE_NOT_FOUND', 'check the URL; the origin has no such object']
    : status === 401 || status === 403 ? ['D7Y_SOURCE_AUTH', 'pass the credentials the origin expects (request headers such as Authorization, or a signed URL)']
    : status >= 500 || status === 429 ? ['D7Y_SOURCE_UNAVAILABLE', 'the origin is failing or overloaded; retry later or raise the http source retries']
    : status >= 300 && status < 400 ? ['D7Y_SOURCE_ERROR', 'the origin redirects too often; raise maxRedirections or use the final URL']
    : ['D7Y_SOURCE_ERROR', 'check the URL and the request headers sent to the origin'];
  return new D7yError(code, `${where} failed: HTTP ${reason}${tries}`, { fix, details: { url: redactUrl(url), status, attempts } });
}

/** The D7yError for a connection-level failure (refused, DNS, reset, timeout). */
export function httpNetworkError(method: string, url: string, err: unknown, attempts = 1): D7yError {
  const tls = originTlsError(method, url, err);
  if (tls) return tls;
  const code = networkCode(err);
  if (/redirect loop/i.test(String((err as Error | undefined)?.message))) {
    return new D7yError('D7Y_SOURCE_ERROR', `${method} ${redactUrl(url)} failed: the origin redirects in a loop`, {
      fix: 'fix the redirect on the origin or use the final URL', cause: err, details: { url: redactUrl(url) },
    });
  }
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  const what = describeNetwork(code, err);
  return new D7yError('D7Y_SOURCE_UNAVAILABLE', `${method} ${redactUrl(url)} failed: ${what}${tries}`, {
    fix: 'check that the origin host is up and reachable from this host (DNS, port, firewall, proxy)',
    cause: err,
    details: { url: redactUrl(url), code, attempts },
  });
}

function describeNetwork(code: string | undefined, err: unknown): string {
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (ECONNREFUSED)';
    case 'ENOTFOUND': case 'EAI_AGAIN': return `host name not resolved (${code})`;
    case 'ECONNRESET': case 'UND_ERR_SOCKET': case 'EPIPE': return `connection reset by the origin (${code})`;
    case 'UND_ERR_CONNECT_TIMEOUT': return 'connect timed out';
    case 'UND_ERR_HEADERS_TIMEOUT': return 'no response headers in time';
    case 'UND_ERR_BODY_TIMEOUT': return 'the body stalled';
    default: return `${code ?? 'network error'}: ${String((err as Error | undefined)?.message ?? err).replace(/\/\/[^/@\s]*@/g, '//')}`;
  }
}

function networkCode(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && e.code !== 'UND_ERR') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}
