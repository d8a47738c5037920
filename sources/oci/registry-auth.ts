import type { Dispatcher } from 'undici';
import { D7yError, type LazyRequestOptions } from '../../core/index.js';

/** Credentials for one registry (`host[:port]`). */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** A parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Parses `Bearer realm="…",service="…",scope="…"` / `Basic realm="…"`; undefined when neither. */
export function parseChallenge(header: string | undefined): AuthChallenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(basic|bearer)\b\s*(.*)$/i.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase() as 'basic' | 'bearer', params };
}

/**
 * Authorization for registries: basic credentials from config, and Bearer tokens obtained from the
 * challenge's realm (with the basic credentials when there are some, anonymously otherwise),
 * cached per registry and scope until shortly before they expire. Never logs or reports secrets.
 */
export class RegistryAuth {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly schemes = new Map<string, 'basic' | 'bearer'>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly credentials: ReadonlyMap<string, RegistryCredentials>,
    /** A request through the registry client's agent, without following redirects. */
    private readonly send: (url: URL, options: LazyRequestOptions) => Promise<Dispatcher.ResponseData>,
    private readonly timeoutMs: number,
    private readonly maxTokens = 512,
  ) {}

  /** The Authorization header to send up front for `registry`/`scope`, if one is known. */
  cached(registry: string, scope: string): string | undefined {
    const scheme = this.schemes.get(registry);
    if (scheme === 'basic') return this.basic(registry);
    if (scheme === 'bearer') {
      const hit = this.tokens.get(`${registry} ${scope}`);
      if (hit && hit.expiresAt > Date.now()) return `Bearer ${hit.token}`;
    }
    return undefined;
  }

  /**
   * Answers a 401 challenge to a request sent with `refused` (or none); undefined when there is
   * nothing (more) to try. A token another request obtained meanwhile is reused.
   */
  async answer(registry: string, scope: string, challenge: AuthChallenge, refused: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
    this.schemes.set(registry, challenge.scheme);
    if (challenge.scheme === 'basic') return this.basic(registry);
    const key = `${registry} ${scope}`;
    const hit = this.tokens.get(key);
    if (hit && hit.expiresAt > Date.now() && `Bearer ${hit.token}` !== refused) return `Bearer ${hit.token}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetchToken(registry, scope, challenge).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return raceAbort(p, signal);
  }

  private async fetchToken(registry: string, scope: string, challenge: AuthChallenge): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new D7yError('D7Y_SOURCE_AUTH', `registry ${registry} sent a Bearer challenge without a realm`, { fix: 'check the registry\'s token auth configuration' });
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', challenge.params.scope ?? scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    const basic = this.basic(registry);
    if (basic) headers.authorization = basic;
    const res = await this.send(url, { method: 'GET', headers, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw new D7yError('D7Y_SOURCE_AUTH', `the token service of ${registry} (${url.origin}${url.pathname}) refused the ${basic ? 'configured credentials' : 'anonymous request'} (HTTP ${res.statusCode})`, {
        fix: basic ? `check the username and password for ${registry} in the oci plugin config` : `set credentials for ${registry} in the oci plugin config ("auths")`,
        details: { registry, status: res.statusCode },
      });
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new D7yError('D7Y_SOURCE_UNAVAILABLE', `the token service of ${registry} answered HTTP ${res.statusCode}`, { fix: 'retry later or check the registry', details: { registry, status: res.statusCode } });
    }
    const body = (await res.body.json()) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new D7yError('D7Y_SOURCE_AUTH', `the token service of ${registry} returned no token`, { fix: 'check the registry\'s token service' });
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    const lifetimeMs = Math.max(60, body.expires_in ?? 60) * 1000;
    this.remember(`${registry} ${scope}`, { token, expiresAt: start + lifetimeMs - Math.min(10_000, lifetimeMs / 10) });
    return `Bearer ${token}`;
  }

  /** Drops the cached token for `registry`/`scope` when it is the `refused` one. */
  forget(registry: string, scope: string, refused: string | undefined): void {
    const key = `${registry} ${scope}`;
    const hit = this.tokens.get(key);
    if (hit && refused === `Bearer ${hit.token}`) this.tokens.delete(key);
  }

  private remember(key: string, value: CachedToken): void {
    this.tokens.delete(key);
    this.tokens.set(key, value);
    while (this.tokens.size > this.maxTokens) this.tokens.delete(this.tokens.keys().next().value as string);
  }

  private basic(registry: string): string | undefined {
    const c = this.credentials.get(registry);
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  /** True when config has credentials for `registry`. */
  hasCredentials(registry: string): boolean {
    return this.credentials.has(registry);
  }
}

/** `p`, or a rejection as soon as `signal` aborts (the shared work `p` goes on for other callers). */
function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new D7yError('D7Y_ABORTED', 'registry token request: aborted', { fix: 'nothing to do: the caller cancelled the request' }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
