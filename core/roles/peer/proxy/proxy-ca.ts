import { createSecureContext, type SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { caSignerOf, mintLeafCertificate, type LeafIssuer } from './certificate-minter.js';
import { loadCaPair } from './proxy-ca-files.js';

/** How long a minted leaf certificate is valid (it is re-minted a day before its end). */
export const LEAF_DAYS = 365;
const RENEW_BEFORE_MS = 86_400_000;

export interface ProxyCaOptions {
  /** Where d7y keeps the CA it makes itself (`proxy-ca.crt`, `proxy-ca.key`): the peer's data dir. */
  dir: string;
  /** A CA of the user's (PEM certificate); with `keyFile`, used instead of one d7y makes. */
  certFile?: string;
  /** The PEM private key of `certFile` (unencrypted; EC or RSA). */
  keyFile?: string;
  logger: Logger;
  /** Hosts whose leaf certificates are kept (least recently used go first). Default 1000. */
  cacheSize?: number;
}

/** A certificate the CA minted for one host, with its key and a TLS context serving it. */
export interface ProxyLeaf {
  /** The host it is for, as normalised (lower case, no brackets or trailing dot). */
  host: string;
  /** The leaf certificate, PEM. */
  certPem: string;
  /** Its private key, PEM (PKCS#8). */
  keyPem: string;
  /** Serves the leaf followed by the CA certificate. */
  secureContext: SecureContext;
  notAfter: Date;
}

interface CacheEntry {
  leaf: Promise<ProxyLeaf>;
  /** When to mint again (a day before the leaf ends); Infinity while minting. */
  renewAt: number;
}

/**
 * The HTTPS proxy's certificate authority: the user's CA, or one d7y made on first use and keeps
 * in the peer's data dir. It mints a certificate per host on demand, kept in a bounded LRU;
 * concurrent requests for one host share one mint.
 */
export class ProxyCa {
  /** The CA certificate, PEM: what clients must trust. */
  readonly certificatePem: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** True when this load made the CA (its folder had none). */
  readonly generated: boolean;
  private readonly leaves = new Map<string, CacheEntry>();

  private constructor(
    private readonly issuer: LeafIssuer,
    files: { certFile: string; keyFile: string; generated: boolean },
    private readonly cacheSize: number,
    private readonly logger: Logger,
  ) {
    this.certificatePem = issuer.certPem;
    this.certFile = files.certFile;
    this.keyFile = files.keyFile;
    this.generated = files.generated;
  }

  /**
   * The user's CA when `certFile` and `keyFile` are given, else the one in `dir` (made there on
   * first use: `proxy-ca.crt`, and `proxy-ca.key` mode 0600, written atomically). A missing,
   * corrupt, mismatched, expired or non-CA pair is a D7yError naming the file and the fix.
   */
  static async load(opts: ProxyCaOptions): Promise<ProxyCa> {
    const pair = await loadCaPair(opts);
    const signer = await caSignerOf(pair.key, pair.keyFile);
    const cacheSize = opts.cacheSize ?? 1000;
    if (!Number.isInteger(cacheSize) || cacheSize < 1) {
      throw new D7yError('D7Y_CONFIG_INVALID', `the proxy CA's cache size must be a whole number of at least 1, not ${cacheSize}`, { fix: 'set a cache size of 1 or more' });
    }
    const issuer = { certPem: pair.certPem, signer, notAfter: new Date(pair.cert.validTo) };
    return new ProxyCa(issuer, pair, cacheSize, opts.logger);
  }

  /** The TLS context for `host` (see leafFor). */
  async secureContextFor(host: string): Promise<SecureContext> {
    return (await this.leafFor(host)).secureContext;
  }

  /**
   * The leaf certificate for `host`: a DNS name or an IP address (`[::1]` and `::1` alike; case
   * and a trailing dot do not matter). Minted on first use, then served from the cache until a
   * day before it ends. A host that is not a valid name is D7Y_INVALID_ARGUMENT.
   */
  leafFor(host: string): Promise<ProxyLeaf> {
    const name = normaliseHost(host);
    const now = Date.now();
    const hit = this.leaves.get(name);
    if (hit && hit.renewAt > now) {
      this.leaves.delete(name);
      this.leaves.set(name, hit);
      return hit.leaf;
    }
    const entry: CacheEntry = { leaf: this.mint(name), renewAt: Infinity };
    this.leaves.delete(name);
    this.leaves.set(name, entry);
    while (this.leaves.size > this.cacheSize) this.leaves.delete(this.leaves.keys().next().value!);
    entry.leaf.then(
      (leaf) => { entry.renewAt = leaf.notAfter.getTime() - RENEW_BEFORE_MS; },
      () => { if (this.leaves.get(name) === entry) this.leaves.delete(name); },
    );
    return entry.leaf;
  }

  /** Hosts whose certificates are cached now. */
  get cachedHosts(): number {
    return this.leaves.size;
  }

  private async mint(host: string): Promise<ProxyLeaf> {
    const started = performance.now();
    const { certPem, keyPem, notAfter } = await mintLeafCertificate(host, this.issuer, LEAF_DAYS);
    const secureContext = createSecureContext({ key: keyPem, cert: `${certPem}${this.issuer.certPem}` });
    this.logger.debug({ host, ms: Math.round(performance.now() - started) }, 'proxy: minted a certificate');
    return { host, certPem, keyPem, secureContext, notAfter };
  }
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** `host` lower-cased, without IPv6 brackets or a trailing dot; D7Y_INVALID_ARGUMENT when it is no host name or address. */
export function normaliseHost(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (isIP(name) || DNS_NAME.test(name)) return name;
  throw new D7yError('D7Y_INVALID_ARGUMENT', `"${host}" is not a host name or an IP address`, {
    fix: 'ask for a host as a DNS name (example.com) or an IP address (10.0.0.1, [::1])',
  });
}
