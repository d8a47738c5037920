import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { D7yError, type OriginConnectOptions, type OriginTlsPolicy } from '../../core/index.js';
import type { HttpSourceConfig } from './http-source-config.js';

function readPem(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `http source ${key} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: `point the http source's ${key} (plugins.json) at a PEM file readable by the user running d7y`,
    });
  }
}

/** Whether `host` (and `port`) matches a pattern of insecureSkipVerifyHosts. */
export function matchesHostPattern(pattern: string, host: string, port: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  const [pHost, pPort] = p.startsWith('[') ? [p.slice(1, p.indexOf(']')), p.slice(p.indexOf(']') + 2) || undefined] : p.split(':') as [string, string | undefined];
  if (pPort && pPort !== port) return false;
  if (pHost.startsWith('*.')) return h.endsWith(pHost.slice(1)) && h.length > pHost.length - 1;
  return pHost === h;
}

/**
 * The TLS settings of the http source: the system's CAs plus `caFile`, the client certificate,
 * and, per origin, whether its certificate is checked (`insecureSkipVerify`, or a matching
 * `insecureSkipVerifyHosts` pattern). Files are read once, at construction.
 */
export class OriginTls implements OriginTlsPolicy {
  private readonly ca?: (string | Buffer)[];
  private readonly cert?: Buffer;
  private readonly key?: Buffer;

  constructor(private readonly config: HttpSourceConfig) {
    if (config.caFile) this.ca = [...rootCertificates, readPem(config.caFile, 'caFile')];
    if (config.clientCertFile && config.clientKeyFile) {
      this.cert = readPem(config.clientCertFile, 'clientCertFile');
      this.key = readPem(config.clientKeyFile, 'clientKeyFile');
    }
  }

  /** The connect options for `origin` (`https://host:port`). */
  connectOptions(origin: string): OriginConnectOptions {
    const u = new URL(origin);
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    const skip = this.config.insecureSkipVerify || this.config.insecureSkipVerifyHosts.some((p) => matchesHostPattern(p, u.hostname, port));
    return { ...(this.ca && { ca: this.ca }), ...(this.cert && { cert: this.cert, key: this.key }), rejectUnauthorized: !skip };
  }

  explain(method: string, url: string, err: unknown): D7yError | undefined {
    return originTlsError(method, url, err);
  }
}

const UNTRUSTED = /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|CERT_UNTRUSTED|unable to verify the first certificate|self[- ]signed certificate/i;
const EXPIRED = /CERT_HAS_EXPIRED|certificate has expired/i;
const NAME = /ERR_TLS_CERT_ALTNAME_INVALID/;
const CLIENT_CERT = /ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE|certificate required/i;

function textOf(err: unknown): string {
  const parts: string[] = [];
  let e = err as { code?: string; message?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    parts.push(String(e.code ?? ''), String(e.message ?? ''));
    e = e.cause as typeof e;
  }
  return parts.join(' ');
}

/**
 * The D7yError for a failed TLS handshake with an https origin, naming the option that fixes it,
 * or undefined when `err` is not one.
 */
export function originTlsError(method: string, url: string, err: unknown): D7yError | undefined {
  const text = textOf(err);
  const host = (() => { try { return new URL(url).host; } catch { return url; } })();
  const make = (why: string, fix: string): D7yError => new D7yError('D7Y_SOURCE_ERROR', `${method} https://${host}/… failed: ${why}`, { cause: err, fix, details: { host } });
  if (EXPIRED.test(text)) {
    return make('the origin\'s TLS certificate has expired', `renew the certificate of ${host}; or, for this host only, list it in the http source's insecureSkipVerifyHosts (plugins.json)`);
  }
  if (UNTRUSTED.test(text)) {
    return make('the origin\'s TLS certificate is not signed by a trusted CA', `set the http source's caFile (plugins.json) to the PEM of the CA that signed it; or, for this host only, list "${host}" in insecureSkipVerifyHosts`);
  }
  if (NAME.test(text)) {
    return make(`the origin's TLS certificate does not name ${host}`, `use the host name the certificate names, or list "${host}" in the http source's insecureSkipVerifyHosts (plugins.json)`);
  }
  if (CLIENT_CERT.test(text)) {
    return make('the origin requires a client certificate', "set the http source's clientCertFile and clientKeyFile (plugins.json) to a certificate the origin accepts");
  }
  return undefined;
}
