const CENSOR = '[redacted]';

/** Query parameters that carry a signature or credential in signed URLs (S3, GCS, Azure, OAuth). */
const SIGNED_QUERY = /([?&](?:X-Amz-(?:Signature|Credential|Security-Token)|X-Goog-(?:Signature|Credential)|Signature|AWSAccessKeyId|sig|access_token|token)=)[^&\s"'\\]+/gi;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*:)[^@/\s"]+@/gi;
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/g;
const ACCESS_TOKEN = /\bd7y_[A-Za-z0-9_-]{16,}/g;
const SESSION_TOKEN = /\bd7ys\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;

/**
 * `line` with every secret that has a recognisable shape censored, wherever it appears (a message,
 * an error, a URL in a field): signed-URL query parameters, URL passwords, `Bearer`/`Basic`
 * credentials, d7y personal access tokens and session tokens. Secrets without a shape (passwords)
 * are censored by key before a line is written.
 */
export function scrubSecrets(line: string): string {
  return line
    .replace(SIGNED_QUERY, `$1${CENSOR}`)
    .replace(URL_PASSWORD, `$1${CENSOR}@`)
    .replace(AUTH_SCHEME, `$1$2${CENSOR}`)
    .replace(ACCESS_TOKEN, `d7y_${CENSOR}`)
    .replace(SESSION_TOKEN, `d7ys.${CENSOR}`);
}
