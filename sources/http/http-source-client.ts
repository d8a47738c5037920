import { PassThrough, Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent, Dispatcher } from 'undici';
import {
  D7yError,
  isD7yError,
  silentLogger,
  type ByteRange,
  type DownloadRequest,
  type Logger,
  type SourceClient,
  type SourceDownload,
  type SourceRequest,
  type SourceStat,
  type Startable,
  LazyUndici,
} from '../../core/index.js';
import { httpNetworkError, httpStatusError, isRetryableNetworkError, isRetryableStatus } from './http-error.js';
import { defaultHttpSourceConfig, type HttpSourceConfig } from './http-source-config.js';
import { OriginTls } from './origin-tls.js';
import { redactUrl } from './redact-url.js';

type Response = Dispatcher.ResponseData;

/**
 * SourceClient for `http://` and `https://` origins on one undici Agent (bounded connections per
 * origin, keep-alive). Request headers are sent as given. Redirects are followed up to
 * `maxRedirections`. 5xx, 429 and connection failures before the body starts are retried with
 * exponential backoff and full jitter, bounded by `retries` and `deadline`. Every error is a
 * D7yError whose message names the URL (without userinfo or signature params), the status and reason.
 * `stop()` closes the agent; calls after it fail.
 */
export class HttpSourceClient implements SourceClient, Startable {
  readonly schemes = ['http', 'https'] as const;
  private readonly config: HttpSourceConfig;
  /** The agent and the redirect-following dispatcher over it, made (undici loaded) on the first request. */
  private readonly client: LazyUndici<{ agent: Agent; dispatcher: Dispatcher }>;
  private readonly logger: Logger;
  readonly originTls: OriginTls;
  private stopped = false;

  constructor(config: Partial<HttpSourceConfig> = {}, logger: Logger = silentLogger()) {
    this.config = defaultHttpSourceConfig(config);
    this.logger = logger;
    const tls = new OriginTls(this.config);
    this.originTls = tls;
    this.client = new LazyUndici((u) => {
      const agent = new u.Agent({
        connections: this.config.maxConnectionsPerOrigin,
        keepAliveTimeout: 30_000,
        headersTimeout: this.config.headersTimeout,
        bodyTimeout: this.config.bodyTimeout,
        factory: (origin, opts) => new u.Pool(origin, { ...opts, connect: { timeout: this.config.connectTimeout, ...tls.connectOptions(String(origin)) } }),
      });
      return { agent, dispatcher: agent.compose(u.interceptors.redirect({ maxRedirections: this.config.maxRedirections })) };
    }, (c) => c.dispatcher);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
    const agent = this.client.current?.agent;
    if (agent && !agent.closed) await agent.close().catch(() => agent.destroy());
  }

  /**
   * HEAD for length, range support, ETag, Last-Modified and Content-Type; when the origin refuses
   * HEAD (405, 501, or 403 on HEAD only) a `bytes=0-0` GET gives the length from Content-Range.
   * `contentLength` is undefined when the origin does not say.
   */
  async stat(req: SourceRequest): Promise<SourceStat> {
    const head = await this.send('HEAD', req);
    if (head.statusCode >= 200 && head.statusCode < 300) {
      await head.body.dump().catch(() => undefined);
      return statOf(req.url, head, parseLength(head.headers['content-length']));
    }
    await head.body.dump().catch(() => undefined);
    if (![403, 405, 501].includes(head.statusCode)) throw httpStatusError('HEAD', req.url, head.statusCode);
    const get = await this.send('GET', req, 'bytes=0-0');
    await get.body.dump().catch(() => undefined);
    if (get.statusCode === 206) {
      const total = parseContentRange(header(get.headers, 'content-range'))?.total;
      return { ...statOf(req.url, get, total), supportsRange: true };
    }
    if (get.statusCode === 200) return { ...statOf(req.url, get, parseLength(get.headers['content-length'])), supportsRange: false };
    throw httpStatusError('GET', req.url, get.statusCode);
  }

  /**
   * GET the object, or exactly `range` with `Range: bytes=a-b` (a 206 whose Content-Range matches is
   * required; a 200 is accepted only when the range starts at 0, and is then cut to the range).
   * The stream fails with D7Y_ABORTED on `signal`, and with D7Y_SOURCE_UNAVAILABLE if the origin
   * drops the connection mid-body.
   */
  async download(req: DownloadRequest): Promise<SourceDownload> {
    const range = req.range;
    if (range && (range.start < 0 || range.length < 0)) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid range ${JSON.stringify(range)} for ${redactUrl(req.url)}`);
    }
    if (range?.length === 0) return { stream: Readable.from([]), contentLength: 0 };
    const rangeHeader = range ? `bytes=${range.start}-${range.start + range.length - 1}` : undefined;
    const res = await this.send('GET', req, rangeHeader);
    const status = res.statusCode;
    if (status !== 200 && status !== 206) {
      await res.body.dump().catch(() => undefined);
      throw httpStatusError('GET', req.url, status);
    }
    let contentLength = parseLength(res.headers['content-length']);
    let limit: number | undefined;
    if (range) {
      const problem = status === 206 ? checkContentRange(header(res.headers, 'content-range'), range) : rangeIgnored(range, contentLength);
      if (problem) {
        res.body.destroy();
        throw new D7yError('D7Y_SOURCE_RANGE_UNSUPPORTED', `GET ${redactUrl(req.url)} with Range ${rangeHeader}: ${problem}`, {
          fix: 'the origin does not serve byte ranges; download the whole object instead',
          details: { url: redactUrl(req.url), status },
        });
      }
      if (status === 200) {
        limit = range.length;
        contentLength = range.length;
      }
    }
    return { stream: this.wrapBody(req, res, contentLength, limit), contentLength, headers: flatHeaders(res.headers) };
  }

  private wrapBody(req: SourceRequest, res: Response, expected: number | undefined, limit: number | undefined): Readable {
    const url = redactUrl(req.url);
    let received = 0;
    let cut = false;
    const out = limit === undefined
      ? new PassThrough({ highWaterMark: 256 * 1024 })
      : cutAt(limit, () => { cut = true; res.body.unpipe(); res.body.destroy(); });
    const onAbort = () => out.destroy(aborted(req.url));
    const cleanup = () => req.signal?.removeEventListener('abort', onAbort);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    res.body.on('data', (chunk: Buffer) => { received += chunk.length; });
    res.body.on('error', (err) => {
      if (cut) return;
      if (req.signal?.aborted) return out.destroy(aborted(req.url));
      const of = expected === undefined ? '' : ` of ${expected}`;
      out.destroy(new D7yError('D7Y_SOURCE_UNAVAILABLE', `GET ${url}: the connection broke after ${received}${of} bytes (${describeError(err)})`, {
        fix: 'the origin dropped the transfer; retry the download',
        cause: err,
        details: { url, received, expected },
      }));
    });
    out.on('close', () => {
      cleanup();
      if (!res.body.destroyed && !res.body.readableEnded) res.body.destroy();
    });
    res.body.pipe(out);
    return out;
  }

  /** One request with retries; resolves with the final response (any status) or throws a D7yError. */
  private async send(method: 'GET' | 'HEAD', req: SourceRequest, range?: string): Promise<Response> {
    if (req.signal?.aborted) throw aborted(req.url);
    const deadline = Date.now() + this.config.deadline;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) if (!(range && k.toLowerCase() === 'range')) headers[k] = v;
    if (range) headers.range = range;
    let lastStatus: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const ac = new AbortController();
      const onAbort = () => ac.abort(aborted(req.url));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => ac.abort(new D7yError('D7Y_TIMEOUT', 'deadline')), Math.max(1, deadline - Date.now()));
      let res: Response | undefined;
      let failure: unknown;
      try {
        if (this.stopped) throw new D7yError('D7Y_ABORTED', `${method} ${redactUrl(req.url)}: the HTTP source is stopped`);
        res = await this.client.request(req.url, { method, headers, signal: ac.signal });
      } catch (err) {
        failure = err;
      } finally {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
      }
      if (req.signal?.aborted) {
        res?.body.destroy();
        throw aborted(req.url);
      }
      if (res && !isRetryableStatus(res.statusCode)) return res;
      if (!res && !isRetryableNetworkError(failure)) {
        if (isD7yError(failure, 'D7Y_TIMEOUT')) {
          throw lastStatus === undefined ? this.deadlineError(method, req.url, attempt) : httpStatusError(method, req.url, lastStatus, attempt - 1);
        }
        throw httpNetworkError(method, req.url, failure, attempt);
      }
      lastStatus = res?.statusCode ?? lastStatus;
      const delay = this.backoff(attempt, res);
      const outOfTime = Date.now() + delay >= deadline;
      if (attempt > this.config.retries || outOfTime) {
        if (res) {
          await res.body.dump().catch(() => undefined);
          throw httpStatusError(method, req.url, res.statusCode, attempt);
        }
        throw httpNetworkError(method, req.url, failure, attempt);
      }
      this.logger.debug({ url: redactUrl(req.url), status: res?.statusCode, attempt, delay }, 'origin request failed, retrying');
      if (res) await res.body.dump().catch(() => undefined);
      try {
        await sleep(delay, undefined, { signal: req.signal });
      } catch {
        throw aborted(req.url);
      }
    }
  }

  private backoff(attempt: number, res: Response | undefined): number {
    const retryAfter = Number(header(res?.headers ?? {}, 'retry-after'));
    const cap = this.config.maxRetryDelay;
    if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(cap, retryAfter * 1000);
    return Math.round(Math.random() * Math.min(cap, this.config.retryDelay * 2 ** (attempt - 1)));
  }

  private deadlineError(method: string, url: string, attempts: number): D7yError {
    return new D7yError('D7Y_SOURCE_UNAVAILABLE', `${method} ${redactUrl(url)} failed: no response within ${this.config.deadline} ms (${attempts} attempts)`, {
      fix: 'the origin is too slow; raise the http source deadline or check the origin',
      details: { url: redactUrl(url), attempts },
    });
  }
}

function aborted(url: string): D7yError {
  return new D7yError('D7Y_ABORTED', `request to ${redactUrl(url)} aborted`);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseLength(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || !/^\d+$/.test(s.trim())) return undefined;
  return Number(s);
}

function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function checkContentRange(v: string | undefined, range: ByteRange): string | undefined {
  const cr = parseContentRange(v);
  const end = range.start + range.length - 1;
  if (!cr) return `206 without a valid Content-Range (got ${v ?? 'none'})`;
  if (cr.start !== range.start || cr.end !== end) return `206 with Content-Range ${v}, expected bytes ${range.start}-${end}`;
  return undefined;
}

function rangeIgnored(range: ByteRange, contentLength: number | undefined): string | undefined {
  if (range.start === 0 && contentLength !== undefined && contentLength >= range.length) return undefined;
  return 'the origin ignored the Range header and answered 200 with the whole object';
}

function statOf(url: string, res: Response, contentLength: number | undefined): SourceStat {
  return {
    url,
    contentLength,
    supportsRange: header(res.headers, 'accept-ranges')?.toLowerCase() === 'bytes',
    etag: header(res.headers, 'etag'),
    lastModified: header(res.headers, 'last-modified'),
    contentType: header(res.headers, 'content-type'),
  };
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Passes the first `limit` bytes, then ends and calls `done` so the source can be released. */
function cutAt(limit: number, done: () => void): Transform {
  let left = limit;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left <= 0) return cb();
      const piece = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      this.push(piece);
      if (left === 0) {
        this.push(null);
        done();
      }
      cb();
    },
  });
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}
