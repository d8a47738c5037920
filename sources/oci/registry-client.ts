import { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { D7yError, LazyUndici, type Logger } from '../../core/index.js';
import { parseChallenge, RegistryAuth, type RegistryCredentials } from './registry-auth.js';
import { describeOciUrl, type OciUrl } from './oci-url.js';

export interface RegistryClientOptions {
  credentials: ReadonlyMap<string, RegistryCredentials>;
  /** Registries (`host[:port]`) reached over plain http. */
  insecureRegistries: ReadonlySet<string>;
  timeoutMs: number;
  maxRedirections: number;
  logger?: Logger;
}

export interface RegistryRequest {
  ref: OciUrl;
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below `/v2/<repository>/`, e.g. `manifests/v1` or `blobs/sha256:…`. */
  path: string;
  /** An absolute URL the registry gave (an upload's `Location`), used instead of `path`. */
  location?: string;
  headers?: Record<string, string>;
  /** The request body. A stream is sent once: a 401 after it is an auth error, never a retry. */
  body?: Buffer | Readable;
  /** Ask for push rights (`repository:<name>:pull,push`) when the registry challenges. */
  push?: boolean;
  /**
   * The caller's own credential for the registry (a mirror client's `Authorization`), sent up
   * front; when the registry refuses it, the usual challenge flow follows.
   */
  authorization?: string;
  signal?: AbortSignal;
  /** What the request is for, in messages (`manifest`, `blob`, `tag list`). */
  what: string;
}

/** The aborted-signal error every call rejects with. */
export function abortedError(what: string): D7yError {
  return new D7yError('D7Y_ABORTED', `${what}: aborted`, { fix: 'nothing to do: the caller cancelled the request' });
}

/**
 * Speaks the OCI distribution API (`/v2/…`) to registries with undici: https by default, http for
 * insecure registries; answers 401 challenges through RegistryAuth and retries once; follows
 * redirects (blob storage); maps failures to D7yErrors that name the registry and object.
 */
export class RegistryClient {
  /** The agent and the redirect-following dispatcher over it, made (undici loaded) on the first request. */
  private readonly client: LazyUndici<{ agent: Agent; dispatcher: Dispatcher }>;
  private readonly auth: RegistryAuth;

  constructor(private readonly options: RegistryClientOptions) {
    this.client = new LazyUndici((u) => {
      const agent = new u.Agent({ connectTimeout: options.timeoutMs, keepAliveTimeout: 30_000, connections: 16 });
      return { agent, dispatcher: agent.compose(u.interceptors.redirect({ maxRedirections: options.maxRedirections })) };
    }, (c) => c.dispatcher);
    this.auth = new RegistryAuth(options.credentials, (url, o) => this.client.request(url, o, (c) => c.agent), options.timeoutMs);
  }

  /** Sends the request; resolves with a 2xx response (the caller consumes its body) or rejects with a D7yError. */
  async send(req: RegistryRequest): Promise<Dispatcher.ResponseData> {
    const { ref } = req;
    if (req.signal?.aborted) throw abortedError(`${req.what} ${describeOciUrl(ref)}`);
    const base = `${this.schemeOf(ref)}://${ref.registry}`;
    const url = req.location ? new URL(req.location, base).href : `${base}/v2/${ref.repository}/${req.path}`;
    const scope = `repository:${ref.repository}:${req.push ? 'pull,push' : 'pull'}`;
    let authorization = req.authorization ?? this.auth.cached(ref.registry, scope);
    for (let attempt = 0; attempt < 3; attempt++) {
      const headers = { ...req.headers, ...(authorization ? { authorization } : {}) };
      const res = await this.call(url, req, headers);
      if (res.statusCode !== 401) return this.check(res, req);
      await res.body.dump().catch(() => undefined);
      this.auth.forget(ref.registry, scope, authorization);
      if (req.body instanceof Readable) throw this.authError(req, 401, authorization !== undefined);
      const challenge = parseChallenge(header(res.headers, 'www-authenticate'));
      this.options.logger?.debug({ registry: ref.registry, repository: ref.repository, challenge: challenge?.scheme ?? 'none', attempt }, 'registry asked for authentication');
      const next = challenge && attempt === 0 ? await this.answer(ref.registry, scope, challenge, authorization, req) : undefined;
      if (!next || next === authorization) throw this.authError(req, 401, authorization !== undefined);
      authorization = next;
    }
    throw this.authError(req, 401, true);
  }

  /** `http` for insecure registries, else `https`. */
  schemeOf(ref: OciUrl): 'http' | 'https' {
    return ref.insecure || this.options.insecureRegistries.has(ref.registry) ? 'http' : 'https';
  }

  private async answer(registry: string, scope: string, challenge: NonNullable<ReturnType<typeof parseChallenge>>, refused: string | undefined, req: RegistryRequest): Promise<string | undefined> {
    try {
      return await this.auth.answer(registry, scope, challenge, refused, req.signal);
    } catch (err) {
      if (req.signal?.aborted) throw abortedError(`${req.what} ${describeOciUrl(req.ref)}`);
      if (err instanceof D7yError) throw err;
      throw new D7yError('D7Y_SOURCE_UNAVAILABLE', `the token service of ${registry} could not be reached: ${(err as Error).message}`, { cause: err, fix: 'check that the registry\'s token service is reachable' });
    }
  }

  private async call(url: string, req: RegistryRequest, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    try {
      return await this.client.request(url, {
        method: req.method, headers, body: req.body, signal: req.signal,
        headersTimeout: this.options.timeoutMs, bodyTimeout: this.options.timeoutMs,
      });
    } catch (err) {
      if (req.signal?.aborted) throw abortedError(`${req.what} ${describeOciUrl(req.ref)}`);
      const code = (err as { code?: string }).code ?? '';
      const hint = /EPROTO|ERR_SSL|wrong version/i.test(`${code} ${(err as Error).message}`)
        ? `; if ${req.ref.registry} speaks plain http, add it to "insecureRegistries" or use ?insecure=true` : '';
      throw new D7yError('D7Y_SOURCE_UNAVAILABLE', `registry ${req.ref.registry} could not be reached for ${req.what} ${describeOciUrl(req.ref)}: ${(err as Error).message}${hint}`, {
        cause: err, fix: `check that ${req.ref.registry} is up and reachable${hint}`, details: { registry: req.ref.registry, code },
      });
    }
  }

  private async check(res: Dispatcher.ResponseData, req: RegistryRequest): Promise<Dispatcher.ResponseData> {
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const body = await res.body.text().catch(() => '');
    const name = describeOciUrl(req.ref);
    const details = { registry: req.ref.registry, status: res.statusCode };
    const codes = registryErrorCodes(body);
    if (res.statusCode === 404 || codes.some((c) => /UNKNOWN$/.test(c) || c === 'NAME_UNKNOWN')) {
      throw new D7yError('D7Y_SOURCE_NOT_FOUND', `${req.what} ${name} not found (HTTP ${res.statusCode}${codes.length ? ` ${codes.join(', ')}` : ''})`, {
        fix: 'check the repository, tag or digest', details,
      });
    }
    if (res.statusCode === 403) throw this.authError(req, 403, true);
    if (res.statusCode === 416) {
      throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED', `registry ${req.ref.registry} refused the range of ${req.what} ${name} (HTTP 416)`, { fix: 'request a range inside the blob', details });
    }
    const code = res.statusCode >= 500 || res.statusCode === 429 ? 'D7Y_SOURCE_UNAVAILABLE' : 'D7Y_SOURCE_ERROR';
    throw new D7yError(code, `registry ${req.ref.registry} answered HTTP ${res.statusCode} for ${req.what} ${name}${codes.length ? ` (${codes.join(', ')})` : ''}`, {
      fix: code === 'D7Y_SOURCE_UNAVAILABLE' ? 'retry later' : 'check the URL and the registry', details,
    });
  }

  private authError(req: RegistryRequest, status: number, sentCredentials: boolean): D7yError {
    const has = this.auth.hasCredentials(req.ref.registry);
    return new D7yError('D7Y_SOURCE_AUTH', `registry ${req.ref.registry} refused access to ${req.what} ${describeOciUrl(req.ref)} (HTTP ${status}${has ? ', with the configured credentials' : sentCredentials ? '' : ', anonymously'})`, {
      fix: has ? `check the username, password and permissions for ${req.ref.registry} in the oci plugin config` : `set credentials for ${req.ref.registry} in the oci plugin config ("auths")`,
      details: { registry: req.ref.registry, status },
    });
  }

  async close(): Promise<void> {
    await this.client.current?.dispatcher.close();
  }
}

/** A response header as one string. */
export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function registryErrorCodes(body: string): string[] {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string }[] };
    return (parsed.errors ?? []).map((e) => e.code ?? '').filter(Boolean);
  } catch {
    return [];
  }
}
