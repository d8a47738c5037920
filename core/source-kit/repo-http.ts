import type { Dispatcher } from 'undici';
import { LazyUndici } from './lazy-undici.js';
import { D7yError } from '../errors/d7y-error.js';

/** Basic credentials for every URL under `url`. */
export interface RepoCredentials {
  url: string;
  username: string;
  password: string;
}

export interface RepoGet {
  url: string;
  method?: 'GET' | 'HEAD';
  /** What is fetched, for messages (`artifact org.x:y:1.0`). */
  what: string;
  range?: { start: number; length: number };
  signal?: AbortSignal;
}

/**
 * GETs files of a repository served over HTTP (undici, keep-alive, redirects), sending basic
 * credentials to the URLs under a configured repository. Non-2xx answers become D7yErrors naming
 * the object (404 → D7Y_SOURCE_NOT_FOUND, 401/403 → D7Y_SOURCE_AUTH, 416, 5xx); never a secret.
 */
export class RepoHttp {
  /** Made (undici loaded) on the first request. */
  private readonly dispatcher: LazyUndici<Dispatcher>;

  constructor(private readonly credentials: readonly RepoCredentials[], private readonly timeoutMs: number, maxRedirections = 5) {
    this.dispatcher = new LazyUndici((u) => new u.Agent({ connectTimeout: timeoutMs, connections: 16 }).compose(u.interceptors.redirect({ maxRedirections })));
  }

  /** A 2xx response (the caller consumes the body), or a D7yError. */
  async get(req: RepoGet): Promise<Dispatcher.ResponseData> {
    if (req.signal?.aborted) throw aborted(req.what);
    const headers: Record<string, string> = {};
    const cred = this.credentials.find((c) => req.url.startsWith(c.url.replace(/\/?$/, '/')));
    if (cred) headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
    if (req.range) headers.range = `bytes=${req.range.start}-${req.range.start + req.range.length - 1}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.dispatcher.request(req.url, { method: req.method ?? 'GET', headers, signal: req.signal, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    } catch (err) {
      if (req.signal?.aborted) throw aborted(req.what);
      throw new D7yError('D7Y_SOURCE_UNAVAILABLE', `${req.what}: ${origin(req.url)} could not be reached: ${(err as Error).message}`, { cause: err, fix: 'check that the repository is up and its URL is right' });
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      if (req.range && res.statusCode !== 206) {
        await res.body.dump();
        throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED', `${req.what}: ${origin(req.url)} ignored the range request (HTTP ${res.statusCode})`, { fix: 'download the whole file' });
      }
      return res;
    }
    await res.body.dump().catch(() => undefined);
    const details = { url: safeUrl(req.url), status: res.statusCode };
    if (res.statusCode === 404 || res.statusCode === 410) throw new D7yError('D7Y_SOURCE_NOT_FOUND', `${req.what} not found at ${safeUrl(req.url)} (HTTP ${res.statusCode})`, { fix: 'check the coordinates and the repository URL', details });
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new D7yError('D7Y_SOURCE_AUTH', `${origin(req.url)} refused access to ${req.what} (HTTP ${res.statusCode}${cred ? ', with the configured credentials' : ', anonymously'})`, {
        fix: cred ? 'check the username and password of this repository in the plugin config' : 'set a username and password for this repository in the plugin config', details,
      });
    }
    if (res.statusCode === 416) throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED', `${req.what}: the range is outside the file (HTTP 416)`, { fix: 'request a range inside the file', details });
    const code = res.statusCode >= 500 || res.statusCode === 429 ? 'D7Y_SOURCE_UNAVAILABLE' : 'D7Y_SOURCE_ERROR';
    throw new D7yError(code, `${origin(req.url)} answered HTTP ${res.statusCode} for ${req.what}`, { fix: code === 'D7Y_SOURCE_UNAVAILABLE' ? 'retry later' : 'check the URL', details });
  }

  /** The body as text (bounded by `maxBytes`); undefined on 404 when `optional`. */
  async text(req: RepoGet & { maxBytes?: number; optional?: boolean }): Promise<string | undefined> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.get(req);
    } catch (err) {
      if (req.optional && err instanceof D7yError && err.code === 'D7Y_SOURCE_NOT_FOUND') return undefined;
      throw err;
    }
    return (await readLimited(res.body, req.maxBytes ?? 16 * 1024 * 1024, req.what, req.signal)).toString('utf8');
  }

  async close(): Promise<void> {
    await this.dispatcher.current?.close();
  }
}

/** Reads a body into memory, refusing more than `max` bytes. */
export async function readLimited(body: AsyncIterable<unknown> & { destroy(): void }, max: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      if (total > max) {
        body.destroy();
        throw new D7yError('D7Y_SOURCE_ERROR', `${what} is larger than ${max} bytes`, { fix: 'raise the metadata size limit in the plugin config if this is expected' });
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (signal?.aborted) throw aborted(what);
    throw err;
  }
  return Buffer.concat(chunks);
}

export function aborted(what: string): D7yError {
  return new D7yError('D7Y_ABORTED', `${what}: aborted`, { fix: 'nothing to do: the caller cancelled the request' });
}

/** The URL without credentials or query. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the repository';
  }
}
