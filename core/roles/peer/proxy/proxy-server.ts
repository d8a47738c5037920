import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createNodeHttpServer } from '../../../protocol/tls/http-server.js';
import type { NodeTls } from '../../../protocol/tls/node-tls.js';
import type { AddressInfo, Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { ProxyConfig } from '../../../config/proxy-config.js';
import type { Startable } from '../../../contracts/startable.js';
import type { OriginTlsPolicy } from '../../../contracts/source-client.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { DownloadService } from '../download/download-service.js';
import { DirectForward, forwardableHeaders, redact } from './direct-forward.js';
import { serveP2p } from './p2p-responder.js';
import { sendError } from './proxy-answers.js';
import { ProxyRouting } from './proxy-routing.js';
import { RegistryMirror } from './registry-mirror.js';
import type { PeerMetrics, ProxyOutcome } from '../peer-metrics.js';
import { closeHttpServer } from '../../common/close-http-server.js';

/** How the proxy answered a request: its kind, and how it was served (before the response ended). */
interface Answer {
  kind: 'proxy' | 'mirror';
  outcome: ProxyOutcome;
  /** Not a proxied request (the proxy's own health answer). */
  uncounted?: boolean;
}

/** Request headers an origin must not see on a P2P download: the swarm serves plain, whole bytes. */
const NOT_FOR_P2P = ['range', 'if-range', 'accept-encoding', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since'];

/** Largest request head accepted (bigger gets 431). */
const MAX_HEADER_BYTES = 32 * 1024;

export type ConnectHandler = ((req: IncomingMessage, socket: Socket, head: Buffer) => void) & { close(): void };

export interface ProxyServerOptions {
  config: ProxyConfig;
  downloads: DownloadService;
  logger: Logger;
  /** Handles `CONNECT` (tunnels, HTTPS interception); given the proxy's request handler for intercepted requests. */
  /** Counts requests by kind (proxy, mirror) and outcome. */
  metrics?: PeerMetrics;
  connect?: (onRequest: (req: IncomingMessage, res: ServerResponse) => void) => ConnectHandler;
  /** TLS of the node: the proxy listens with HTTPS (clients use `https://` proxy URLs). */
  tls?: NodeTls;
  /** The TLS settings of the source of https URLs, used by direct forwarding to https origins. */
  originTls?: OriginTlsPolicy;
}

/**
 * The peer's HTTP proxy and registry mirror, on one port: absolute-form requests (`curl -x`) are
 * routed P2P or direct by the rules, `/v2/…` is the registry mirror, `CONNECT` is tunnelled (or
 * intercepted). Limits: requests per second and at once (429 past them), optional basic auth (407),
 * header and idle time-outs; a malformed request gets a 4xx that says why.
 */
export class ProxyServer implements Startable {
  private server?: Server;
  private actualPort = 0;
  private readonly direct: DirectForward;
  private readonly routing: ProxyRouting;
  private readonly mirror: RegistryMirror;
  private readonly limiter: RequestRate;
  private active = 0;
  private readonly expectedAuth?: Buffer;
  private connect?: ConnectHandler;

  constructor(private readonly opts: ProxyServerOptions) {
    const { config, logger } = opts;
    this.direct = new DirectForward({ logger, timeoutMs: config.idleTimeout, originTls: opts.originTls });
    this.routing = new ProxyRouting(config.rules);
    this.mirror = new RegistryMirror(config.registryMirror, opts.downloads, this.direct, logger);
    this.limiter = new RequestRate(config.maxRequestsPerSecond);
    if (config.basicAuth) this.expectedAuth = Buffer.from(`Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`);
  }

  get port(): number {
    return this.actualPort || this.opts.config.listen.port;
  }

  async start(): Promise<void> {
    const { config, logger } = this.opts;
    const server = createNodeHttpServer(this.opts.tls, 'proxy', { maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: config.headersTimeout, requestTimeout: 0, keepAliveTimeout: 5_000 });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.dispatch(req, res);
    const connect = this.opts.connect?.(onRequest);
    this.connect = connect;
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on('error', () => undefined);
      const refusal = this.admit(req);
      this.opts.metrics?.proxyRequests.inc({ kind: 'proxy', outcome: refusal ? 'refused' : 'tunnel' });
      if (refusal) {
        socket.end(`HTTP/1.1 ${refusal.status} ${refusal.reason}\r\n${refusal.headers}content-length: ${Buffer.byteLength(refusal.body)}\r\nconnection: close\r\n\r\n${refusal.body}`);
        return;
      }
      if (!connect) {
        socket.end('HTTP/1.1 501 Not Implemented\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      connect(req, socket, head);
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const [status, reason, text] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', `the request head is larger than ${MAX_HEADER_BYTES} bytes`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'the request head did not arrive in time']
        : [400, 'Bad Request', `malformed HTTP request (${err.code ?? err.message})`];
      const body = `d7y proxy: ${text}\n`;
      socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    server.setTimeout(config.idleTimeout, (socket: Socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new D7yError('D7Y_CONFIG_INVALID', `the proxy cannot listen on ${config.listen.ip}:${config.listen.port}: ${err.message}`, {
        fix: 'choose a free peer.proxy.listen.port (0 picks one), or set peer.proxy.enabled to false', cause: err,
      })));
      server.listen(config.listen.port, config.listen.ip, () => resolve());
    });
    this.server = server;
    this.actualPort = (server.address() as AddressInfo).port;
    logger.info({ ip: config.listen.ip, port: this.actualPort, rules: config.rules.length, registryMirror: config.registryMirror.url, basicAuth: !!config.basicAuth }, 'proxy: listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.connect?.close();
    if (server) await closeHttpServer(server);
    await this.direct.close();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const refusal = this.admit(req);
    if (refusal) {
      this.opts.metrics?.proxyRequests.inc({ kind: req.url?.startsWith('/v2') ? 'mirror' : 'proxy', outcome: 'refused' });
      res.writeHead(refusal.status, { 'content-type': 'text/plain', connection: 'close', ...headerRecord(refusal.headers) });
      res.end(refusal.body);
      return;
    }
    this.dispatch(req, res);
  }

  /** 407 without the configured basic auth; 429 past the request rate or the requests at once. */
  private admit(req: IncomingMessage): { status: number; reason: string; headers: string; body: string } | undefined {
    if (this.expectedAuth) {
      const got = Buffer.from(req.headers['proxy-authorization'] ?? '');
      if (got.length !== this.expectedAuth.length || !timingSafeEqual(got, this.expectedAuth)) {
        return { status: 407, reason: 'Proxy Authentication Required', headers: 'proxy-authenticate: Basic realm="d7y"\r\n', body: 'd7y proxy: this proxy needs Proxy-Authorization: Basic (peer.proxy.basicAuth)\n' };
      }
    }
    if (!this.limiter.take() || this.active >= this.opts.config.maxConcurrentRequests) {
      return { status: 429, reason: 'Too Many Requests', headers: 'retry-after: 1\r\n', body: 'd7y proxy: too many requests; retry later or raise peer.proxy.maxRequestsPerSecond / maxConcurrentRequests\n' };
    }
    return undefined;
  }

  /** Routes one admitted request (also the requests of an intercepted HTTPS tunnel). */
  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    this.active += 1;
    const started = Date.now();
    const answer: Answer = { kind: 'proxy', outcome: 'refused' };
    res.once('close', () => {
      this.active -= 1;
      const failed = !res.writableFinished || res.statusCode >= 500;
      if (!answer.uncounted) this.opts.metrics?.proxyRequests.inc({ kind: answer.kind, outcome: failed ? 'failed' : answer.outcome });
      // Built only at debug level: parsing each URL again costs every request otherwise.
      if (!this.opts.logger.isLevelEnabled('debug')) return;
      this.opts.logger.debug({ method: req.method, url: redact(req.url ?? ''), status: res.statusCode, ms: Date.now() - started, complete: res.writableFinished }, 'proxy: request');
    });
    res.on('error', () => undefined);
    this.serve(req, res, answer).catch((err: unknown) => {
      const e = toD7yError(err);
      this.opts.logger.warn({ url: redact(req.url ?? ''), code: e.code, err: e.message }, 'proxy: request failed');
      sendError(res, 500, e.message, 'proxy');
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, answer: Answer): Promise<void> {
    const url = req.url ?? '';
    if (/^https?:\/\//i.test(url)) {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        sendError(res, 400, `"${url.slice(0, 200)}" is not a URL`, 'proxy');
        return;
      }
      let route;
      try {
        route = this.routing.route(req.method, target.href, req.headers);
      } catch (err) {
        const e = toD7yError(err);
        sendError(res, 400, `${e.message} (${e.fix ?? ''})`, 'proxy');
        return;
      }
      if (route.use === 'p2p') {
        answer.outcome = 'p2p';
        const served = await serveP2p(this.opts.downloads, this.opts.logger, req, res, {
          url: target.href, headers: forwardableHeaders(req.headers, NOT_FOR_P2P), ...route.request,
        });
        if (!served.direct) return;
      }
      answer.outcome = 'direct';
      await this.direct.forward(req, res, target.href);
      return;
    }
    if (url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?')) {
      answer.kind = 'mirror';
      await this.mirror.handle(req, res, answer);
      return;
    }
    if (url === '/healthy') {
      answer.uncounted = true;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    sendError(res, 400, `${req.method} ${url.slice(0, 200)} is neither a proxy request (an absolute http:// URL, as curl -x sends) nor a registry API request (/v2/…)`, 'proxy');
  }
}

/** Requests per second, as a token bucket refilled continuously (0 = unlimited). */
class RequestRate {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }

  take(): boolean {
    if (this.perSecond === 0) return true;
    const now = Date.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function headerRecord(lines: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
