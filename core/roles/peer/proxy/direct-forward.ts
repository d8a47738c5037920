import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Agent, Dispatcher } from 'undici';
import { LazyUndici } from '../../../source-kit/lazy-undici.js';
import type { OriginTlsPolicy } from '../../../contracts/source-client.js';
import type { Logger } from '../../../logging/logger.js';
import { sendError } from './proxy-answers.js';

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), and the proxy's own. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host',
]);

/** The request headers an origin should see: the client's, minus hop-by-hop, proxy and `X-Dragonfly-*` ones. */
export function forwardableHeaders(headers: IncomingMessage['headers'], drop: readonly string[] = []): Record<string, string> {
  const connectionTokens = String(headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim());
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const k = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(k) || connectionTokens.includes(k) || k.startsWith('x-dragonfly-') || drop.includes(k)) continue;
    out[k] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Copies an origin's response headers to the client's response, minus hop-by-hop ones. */
export function copyResponseHeaders(from: Record<string, string | string[] | undefined>, res: ServerResponse): void {
  for (const [name, value] of Object.entries(from)) {
    const k = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(k)) continue;
    res.setHeader(k, value);
  }
}

export interface DirectForwardOptions {
  logger: Logger;
  /** Milliseconds for the origin's response headers, and between two chunks of its body. */
  timeoutMs: number;
  /** The TLS settings of the source of https URLs (CA, client certificate, hosts not checked); node's defaults without. */
  originTls?: OriginTlsPolicy;
}

/**
 * Forwards requests to their origin as they are (method, headers, body) and the origin's answer
 * back as it is: its status (4xx and 5xx too) and body byte for byte, nothing decoded. An origin
 * that fails mid-body aborts the client's connection, so a short body is never taken as whole.
 * https origins are reached with the TLS settings of the source of https URLs, and a failed
 * handshake is answered 502 with what is wrong and the source option that fixes it.
 */
export class DirectForward {
  /** Made (undici loaded) on the first forward: most peers' proxies send every request P2P. */
  private readonly agent: LazyUndici<Agent>;

  constructor(private readonly opts: DirectForwardOptions) {
    const tls = opts.originTls;
    this.agent = new LazyUndici((u) => new u.Agent({
      keepAliveTimeout: 30_000, connections: 256,
      factory: (origin, o) => new u.Pool(origin, { ...o, connect: { timeout: opts.timeoutMs, ...tls?.connectOptions(String(origin)) } }),
    }));
  }

  async forward(req: IncomingMessage, res: ServerResponse, url: string, headers: Record<string, string> = forwardableHeaders(req.headers)): Promise<void> {
    const abort = new AbortController();
    const onClose = (): void => { if (!res.writableFinished) abort.abort(); };
    res.once('close', onClose);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await this.agent.request(url, {
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers, body: hasBody ? req : undefined,
        signal: abort.signal, headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs,
      });
    } catch (err) {
      res.off('close', onClose);
      if (abort.signal.aborted) return;
      const tlsFailure = this.opts.originTls?.explain(req.method ?? 'GET', url, err);
      if (tlsFailure) {
        this.opts.logger.info({ url: redact(url), err: tlsFailure.message }, 'proxy: TLS handshake with the origin failed');
        sendError(res, 502, `${tlsFailure.message}${tlsFailure.fix ? `; fix: ${tlsFailure.fix}` : ''}`, 'backend');
        return;
      }
      const reason = describeConnectError(err);
      this.opts.logger.info({ url: redact(url), err: reason }, 'proxy: origin unreachable');
      sendError(res, reason.timeout ? 504 : 502, `the origin of ${redact(url)} could not be reached: ${reason.message}`, 'backend');
      return;
    }
    res.statusCode = upstream.statusCode;
    copyResponseHeaders(upstream.headers, res);
    try {
      await pipeline(upstream.body, res);
    } catch (err) {
      if (!abort.signal.aborted) this.opts.logger.info({ url: redact(url), err: (err as Error).message }, 'proxy: origin failed mid-body; the client connection is aborted');
      res.destroy();
      upstream.body.destroy();
    } finally {
      res.off('close', onClose);
    }
  }

  async close(): Promise<void> {
    await this.agent.current?.close().catch(() => undefined);
  }
}

function describeConnectError(err: unknown): { message: string; timeout: boolean } {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const timeout = code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT';
  const message = code === 'ECONNREFUSED' ? 'connection refused'
    : code === 'ENOTFOUND' ? 'no such host'
    : timeout ? 'timed out' : (e.cause?.message ?? e.message ?? String(err));
  return { message, timeout };
}

/** A URL without userinfo or query (which may carry signatures) for logs and messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url, 'http://mirror');
    return url.startsWith('/') ? u.pathname : `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<malformed URL>';
  }
}
