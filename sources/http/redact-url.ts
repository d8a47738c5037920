const SECRET_PARAM = /signature|credential|token|secret|password|passwd|^sig$|^key$|api[-_]?key|^auth/i;

/**
 * The URL as it may appear in messages and logs: no userinfo, and no query parameter that
 * may carry a secret (`X-Amz-Signature`, `X-Amz-Credential`, `X-Goog-Signature`, `token`, `sig`...).
 * A string that is not a URL is reduced to its scheme-less first 100 characters without `user@`.
 */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw.replace(/\/\/[^/@]*@/, '//').replace(/\?.*$/, '').slice(0, 100);
  }
  u.username = '';
  u.password = '';
  for (const name of [...u.searchParams.keys()]) if (SECRET_PARAM.test(name)) u.searchParams.delete(name);
  return u.toString();
}
