import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { D7yError } from '../../../errors/d7y-error.js';
import { httpStatusOf } from '../../../errors/error-status.js';
import type { Logger } from '../../../logging/logger.js';
import type { ProxyCa } from './proxy-ca.js';
import { openTunnel } from './tcp-tunnel.js';
import { parseConnectTarget, type ConnectTarget } from './connect-target.js';
import { CONNECT_ESTABLISHED, refuseConnect } from './connect-replies.js';

export interface ConnectHandlerOptions {
  /** True: terminate TLS for this target with a minted certificate and serve it through `onRequest`. */
  hijack: (host: string, port: number) => boolean;
  /** Mints the certificates of hijacked hosts; without one, nothing is hijacked (every CONNECT is a tunnel). */
  ca: ProxyCa | undefined;
  /**
   * Serves each decrypted HTTP/1.1 request of a hijacked tunnel; `req.url` is absolute
   * (`https://host[:port]/path?query`: the client's SNI name, else the CONNECT host; the CONNECT
   * port, left out when 443) and `req.socket` is the TLS socket. It owns `res` as any request
   * listener does.
   */
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  logger: Logger;
  /** How long connecting to a tunnel's target may take before the client gets 504. */
  connectTimeoutMs: number;
  /** A tunnel (or a hijacked connection) with no byte either way for this long is closed. */
  idleTimeoutMs: number;
  /**
   * A D7yError refuses the target: the client gets its HTTP status and message. Asked for the
   * CONNECT target, and again for a hijacked tunnel's SNI name when it differs from that host.
   */
  allowTarget?: (host: string, port: number) => D7yError | undefined;
}

/**
 * The handler of an `http.Server` 'connect' event (see createConnectHandler). `close()` ends
 * every tunnel and hijacked connection still open (an `http.Server` no longer tracks a socket
 * once it is handed to 'connect'): call it when the proxy stops.
 */
export type ConnectHandler = ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) & { close(): void };

/**
 * The proxy's HTTPS side: for each CONNECT, either a TCP tunnel to the target (bytes untouched,
 * connect and idle time-outs, both ends closed together) or, when `hijack` says so and a CA is
 * given, TLS terminated with a certificate the CA mints for the host (the client's SNI wins over
 * the CONNECT host) and its HTTP/1.1 requests, keep-alive included, handed to `onRequest` with
 * absolute URLs. A target that is not `host:port` (port 1..65535) gets 400; a client that drops
 * or distrusts the CA is logged at debug and never throws.
 */
export function createConnectHandler(opts: ConnectHandlerOptions): ConnectHandler {
  const { logger } = opts;
  const targets = new WeakMap<TLSSocket, ConnectTarget>();
  const inner = createServer((req, res) => {
    const target = targets.get(req.socket as TLSSocket);
    if (!target) return void res.destroy();
    const servername = (req.socket as TLSSocket).servername;
    const host = typeof servername === 'string' && servername ? servername.toLowerCase() : target.host;
    const refusal = host === target.host ? undefined : opts.allowTarget?.(host, target.port);
    if (refusal) {
      res.writeHead(httpStatusOf(refusal), { 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end(`${refusal.message}\n`);
    }
    req.url = absoluteUrl(host, target.port, req.url ?? '/');
    try {
      opts.onRequest(req, res);
    } catch (err) {
      logger.warn({ err, url: req.url }, 'proxy: a hijacked request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end();
    }
  });
  inner.timeout = opts.idleTimeoutMs;
  inner.keepAliveTimeout = opts.idleTimeoutMs;
  inner.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    logger.debug({ err: err.message, code: err.code }, 'proxy: a hijacked client connection failed');
    if (err.code?.startsWith('HPE_') && socket.writable) refuseConnect(socket, 400, `bad HTTP request: ${err.message}`);
    else socket.destroy();
  });

  const live = new Set<Duplex>();
  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    live.add(socket);
    socket.on('close', () => live.delete(socket));
    socket.on('error', (err: NodeJS.ErrnoException) => logger.debug({ err: err.message, code: err.code }, 'proxy: CONNECT client socket failed'));
    const parsed = parseConnectTarget(req.url ?? '');
    if (parsed instanceof D7yError) return refuseConnect(socket, 400, parsed.message);
    const refusal = opts.allowTarget?.(parsed.host, parsed.port);
    if (refusal) return refuseConnect(socket, httpStatusOf(refusal), refusal.message);
    if (opts.ca && opts.hijack(parsed.host, parsed.port)) {
      void hijack(opts.ca, parsed, socket, head);
      return;
    }
    openTunnel(parsed, socket, head, opts);
  };
  const close = (): void => {
    for (const socket of live) socket.destroy();
    live.clear();
  };
  return Object.assign(handle, { close });

  async function hijack(ca: ProxyCa, target: ConnectTarget, socket: Duplex, head: Buffer): Promise<void> {
    let context: SecureContext;
    try {
      context = await ca.secureContextFor(target.host);
    } catch (err) {
      logger.warn({ err, host: target.host }, 'proxy: cannot mint a certificate for a hijacked host');
      return refuseConnect(socket, 502, `cannot make a certificate for ${target.host}: ${(err as Error).message}`);
    }
    if (socket.destroyed) return;
    socket.write(CONNECT_ESTABLISHED);
    if (head.length) socket.unshift(head);
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ['http/1.1'],
      SNICallback: (servername, cb) => {
        ca.secureContextFor(servername).then((ctx) => cb(null, ctx), (err: Error) => {
          logger.debug({ servername, err: err.message }, 'proxy: no certificate for the SNI name; the CONNECT host\'s is used');
          cb(null, context);
        });
      },
    });
    targets.set(tls, target);
    live.add(tls);
    tls.on('close', () => live.delete(tls));
    tls.on('error', (err: NodeJS.ErrnoException) => {
      logger.debug({ host: target.host, err: err.message, code: err.code }, 'proxy: TLS with a hijacked client failed (does it trust the proxy CA?)');
    });
    tls.on('close', () => socket.destroy());
    inner.emit('connection', tls);
  }
}

/** `https://host[:port]/path?query` of a request in a hijacked tunnel (the port only when not 443). */
function absoluteUrl(host: string, port: number, path: string): string {
  if (/^https?:\/\//i.test(path)) return path;
  const authority = host.includes(':') ? `[${host}]` : host;
  return `https://${authority}${port === 443 ? '' : `:${port}`}${path.startsWith('/') ? path : `/${path}`}`;
}
