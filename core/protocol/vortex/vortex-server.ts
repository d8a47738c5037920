import { createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { NodeTls } from '../tls/node-tls.js';
import type { NativeAddon } from '../../native/native-addon.js';
import type { Server, Socket } from 'node:net';
import type { Startable } from '../../contracts/startable.js';
import { D7yError } from '../../errors/d7y-error.js';
import { silentLogger } from '../../logging/logger.js';
import type { Logger } from '../../logging/logger.js';
import type { PieceProvider } from './piece-provider.js';
import type { ClusterAuth } from '../auth/cluster-auth.js';
import { RefusalLog } from '../auth/refusal-log.js';
import { VortexServerConnection, type VortexServerAuth } from './vortex-server-connection.js';
import type { PieceKind } from './vortex-tags.js';

export interface VortexServerOptions {
  host: string;
  /** 0 picks a free port; read the actual one from `port` after `start`. */
  port: number;
  provider: PieceProvider;
  logger?: Logger;
  /** Connections beyond this many are refused (closed at once). Default 1024. */
  maxConnections?: number;
  /** A connection with no traffic either way for this long is destroyed. Default 60 s. */
  idleTimeoutMs?: number;
  /**
   * A response whose client takes no bytes for this long while the connection's buffers are full
   * is cut (the connection closes). Default: only the idle time-out applies.
   */
  writeTimeoutMs?: number;
  /** Serve only clients that answer the handshake challenge with this cluster's key (per connection). */
  auth?: ClusterAuth;
  /**
   * The piece kinds the provider serves; a request for another kind gets an InvalidArgument error
   * frame naming it (the connection stays usable). Default: every kind.
   */
  kinds?: readonly PieceKind[];
  /** TLS of the node (security.tls): connections are TLS; in `mutual`, clients without a certificate of the cluster CA are refused. */
  tls?: NodeTls;
  /**
   * Pieces the provider keeps as plain files are sent by the kernel (sendfile(2)) with this native
   * addon, on plain TCP connections; the rest, and every piece over TLS, as streams.
   */
  sendFile?: NativeAddon;
}

/**
 * Serves pieces over Vortex (TLV over TCP). Each connection carries any number of requests in
 * sequence; responses are streamed from the provider with back-pressure. A malformed frame gets
 * an InvalidArgument error frame and the connection closes; provider errors get an error frame
 * and the connection stays usable.
 */
export class VortexServer implements Startable {
  private readonly logger: Logger;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;
  private actualPort = 0;
  private accepted = 0;
  private served = 0;
  private readonly auth?: VortexServerAuth;

  constructor(private readonly opts: VortexServerOptions) {
    this.logger = opts.logger ?? silentLogger();
    if (opts.auth) this.auth = { auth: opts.auth, refusals: new RefusalLog(this.logger, 'vortex') };
    this.maxConnections = opts.maxConnections ?? 1024;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  }

  /** The port listened on (the actual one once started). */
  get port(): number {
    return this.actualPort || this.opts.port;
  }

  /** Connections open right now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Connections accepted since start. */
  get acceptedConnections(): number {
    return this.accepted;
  }

  /** Pieces whose body was written completely since start. */
  get servedPieces(): number {
    return this.served;
  }

  async start(): Promise<void> {
    if (this.server) throw new D7yError('D7Y_INTERNAL', 'the Vortex server was already started');
    const tcp = { noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000, pauseOnConnect: false };
    const tls = this.opts.tls;
    const server = tls ? createTlsServer({ ...tcp, ...tls.serverOptions() }) : createServer(tcp);
    server.maxConnections = this.maxConnections;
    if (tls) {
      tls.attach(server as ReturnType<typeof createTlsServer>, 'vortex');
      server.on('secureConnection', (socket: Socket) => this.accept(socket));
    } else server.on('connection', (socket) => this.accept(socket));
    server.on('drop', (info) => this.logger.warn({ remote: info?.remoteAddress, max: this.maxConnections }, 'vortex: connection refused, too many'));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const inUse = err.code === 'EADDRINUSE' || err.code === 'EACCES';
        reject(new D7yError(inUse ? 'D7Y_CONFIG_INVALID' : 'D7Y_INTERNAL',
          `the Vortex server cannot listen on ${this.opts.host}:${this.opts.port}: ${err.message}`, {
            fix: inUse ? 'choose a free upload port (0 picks one)' : 'check the upload host address', cause: err,
          }));
      };
      server.once('error', onError);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.logger.error({ err }, 'vortex: server error'));
        const addr = server.address();
        this.actualPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
        resolve();
      });
    });
    this.logger.info({ host: this.opts.host, port: this.actualPort }, 'vortex: listening');
  }

  /** Stops taking connections; those open go on until `stop`. */
  stopAccepting(): void {
    if (this.server?.listening) this.server.close();
  }

  /** Stops listening and destroys every connection; safe to call twice or after a failed start. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.stopping ??= (async () => {
      const closing = [...this.sockets].map((socket) => new Promise<void>((resolve) => {
        if (socket.closed) resolve();
        else socket.once('close', () => resolve());
        socket.destroy();
      }));
      const listening = server.listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve();
      await Promise.all([...closing, listening]);
    })();
    await this.stopping;
  }

  private accept(socket: Socket): void {
    if (socket.destroyed) return;
    this.accepted += 1;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleTimeoutMs, () => socket.destroy());
    socket.on('error', (err) => this.logger.debug({ err, remote: socket.remoteAddress }, 'vortex: connection error'));
    socket.once('close', () => this.sockets.delete(socket));
    const addon = this.opts.tls ? undefined : this.opts.sendFile;
    const native = addon && { addon, timeoutMs: this.opts.writeTimeoutMs ?? this.idleTimeoutMs, touch: () => socket.setTimeout(this.idleTimeoutMs) };
    new VortexServerConnection(socket, this.opts.provider, this.logger, () => { this.served += 1; }, this.auth, this.opts.kinds, this.opts.writeTimeoutMs, native);
  }
}
