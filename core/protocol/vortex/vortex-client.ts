import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { PieceFeed } from '../../contracts/storage-medium.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { PieceContentMeta } from './piece-content-meta.js';
import { VortexConnectionPool } from './vortex-connection-pool.js';
import { exchange, StaleConnectionError } from './vortex-exchange.js';
import type { VortexPieceBody } from './vortex-piece-body.js';
import type { ClusterAuth } from '../auth/cluster-auth.js';
import { connectReusingBuffer, connectTlsReads, onReads, plainSocketFd } from './socket-reads.js';
import type { NativeAddon } from '../../native/native-addon.js';
import type { NodeTls } from '../tls/node-tls.js';
import { clientSideFailure } from '../tls/tls-failures.js';
import { VortexDecoder } from './vortex-decoder.js';
import { errorFromVortexFrame } from './vortex-error-codes.js';
import { encodeAuthProofFrame, encodeDownloadPieceFrame, randomVortexPacketId } from './vortex-frames.js';
import type { PieceKind } from './vortex-tags.js';

export interface VortexClientOptions {
  /** Idle connections kept per parent address. Default 8. */
  maxIdlePerAddress?: number;
  /** Time allowed to open a TCP connection. Default 5 s. */
  connectTimeoutMs?: number;
  /** Time allowed without a byte from the parent while a response is awaited or streamed. Default 30 s. */
  readTimeoutMs?: number;
  /** An idle pooled connection is closed after this long. Default 30 s. */
  idleTimeoutMs?: number;
  /**
   * The cluster credential: each new connection waits for the server's challenge (within the
   * connect time-out) and answers it before its first request; a pooled connection is reused as is.
   */
  auth?: ClusterAuth;
  /** TLS of this node (security.tls): connections are TLS, the parent checked against the cluster CA. */
  tls?: NodeTls;
  /**
   * d7y's native addon: on plain TCP connections a piece body is read off the socket by the addon,
   * a 256 KiB chunk per call, instead of by the event loop as its packets come (a few KiB per read on
   * a slow link). Unset: the event loop reads every body.
   */
  nativeReads?: NativeAddon;
}

/** Bytes of one socket read; all connections of a client read into the same buffer. */
const READ_BUFFER = 256 * 1024;

/**
 * Downloads pieces over Vortex. Connections are pooled per address and reused; a connection
 * carries one request at a time. `openPiece` resolves once the piece metadata arrived, with a
 * PieceFeed of exactly `meta.length` bytes read into one buffer shared by all connections (no
 * allocation per read); `downloadPiece` gives the body as a stream of copies instead. The
 * connection returns to the pool when the body has been received to its end, and is destroyed
 * if the body is destroyed first or the signal aborts.
 * Errors are D7yErrors: D7Y_PIECE_NOT_FOUND (the parent has no such piece), D7Y_PEER_UNAVAILABLE,
 * D7Y_TIMEOUT, D7Y_ABORTED, D7Y_PROTOCOL_ERROR, D7Y_INVALID_ARGUMENT (bad task id or number).
 */
export class VortexClient {
  private readonly pool: VortexConnectionPool;
  private readonly connectTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly active = new Set<Socket>();
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER);
  private closed = false;
  private readonly auth?: ClusterAuth;
  private readonly tls?: NodeTls;
  private readonly nativeReads?: NativeAddon;

  constructor(opts: VortexClientOptions = {}) {
    this.auth = opts.auth;
    this.tls = opts.tls;
    this.nativeReads = opts.tls ? undefined : opts.nativeReads;
    this.pool = new VortexConnectionPool(opts.maxIdlePerAddress ?? 8, opts.idleTimeoutMs ?? 30_000);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 30_000;
  }

  /** Idle pooled connections right now. */
  get idleConnections(): number {
    return this.pool.size;
  }

  /** Connections owned by an in-flight request right now. */
  get activeConnections(): number {
    return this.active.size;
  }

  /** The piece as a stream of bytes (each chunk a copy). */
  async downloadPiece(
    addr: { host: string; port: number },
    req: { taskId: string; number: number; kind?: PieceKind },
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ meta: PieceContentMeta; body: Readable }> {
    const { meta, body } = await this.request(addr, req, opts);
    return { meta, body: body.toReadable() };
  }

  /** The piece as a PieceFeed: chunks are views of the shared read buffer, valid during the call. */
  async openPiece(
    addr: { host: string; port: number },
    req: { taskId: string; number: number; kind?: PieceKind },
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ meta: PieceContentMeta; body: PieceFeed }> {
    return this.request(addr, req, opts);
  }

  private async request(
    addr: { host: string; port: number },
    req: { taskId: string; number: number; kind?: PieceKind },
    opts: { signal?: AbortSignal },
  ): Promise<{ meta: PieceContentMeta; body: VortexPieceBody }> {
    if (this.closed) throw new D7yError('D7Y_INTERNAL', 'the Vortex client is closed', { fix: 'create a new VortexClient' });
    const kind = req.kind ?? 'standard';
    const frame = encodeDownloadPieceFrame(randomVortexPacketId(), { taskId: req.taskId, number: req.number, kind });
    const address = `${addr.host}:${addr.port}`;
    for (;;) {
      if (opts.signal?.aborted) throw aborted(address, opts.signal);
      const pooled = this.pool.take(address);
      const socket = pooled ?? await this.open(addr, address, opts.signal);
      this.active.add(socket);
      const fd = this.nativeReads && plainSocketFd(socket);
      try {
        return await exchange({
          socket, address, frame, req: { taskId: req.taskId, number: req.number, kind },
          readTimeoutMs: this.readTimeoutMs, signal: opts.signal,
          onReusable: (s) => this.pool.put(address, s),
          onDone: () => this.active.delete(socket),
          native: fd === undefined ? undefined : { addon: this.nativeReads!, fd },
        });
      } catch (err) {
        if (!(err instanceof StaleConnectionError)) throw err;
        if (!pooled) {
          throw new D7yError('D7Y_PEER_UNAVAILABLE', err.message, { fix: 'download the piece from another parent', cause: err });
        }
      }
    }
  }

  /** Destroys idle connections now and in-flight ones when they finish (or after the read timeout). */
  async close(): Promise<void> {
    this.closed = true;
    this.pool.close();
    const deadline = Date.now() + this.readTimeoutMs;
    while (this.active.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const socket of this.active) socket.destroy();
    this.active.clear();
  }

  private open(addr: { host: string; port: number }, address: string, signal?: AbortSignal): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const tcp = { host: addr.host, port: addr.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 };
      const socket = this.tls ? connectTlsReads(tcp, this.tls) : connectReusingBuffer(tcp, this.readBuffer);
      const ready = this.tls ? 'secureConnect' : 'connect';
      socket.on('error', () => undefined);
      let settled = false;
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        socket.off(ready, onConnect);
        socket.off('error', onError);
        if (err) {
          socket.destroy();
          reject(err);
        } else {
          resolve(socket);
        }
      };
      const onConnect = (): void => {
        if (!this.auth) return done();
        const auth = this.auth;
        const decoder = new VortexDecoder({ accept: 'responses' });
        onReads(socket, (chunk) => {
          const ev = decoder.push(chunk)[0];
          if (!ev) return true;
          onReads(socket, undefined);
          if (ev.type === 'challenge') {
            socket.write(encodeAuthProofFrame(auth.vortexProof(ev.nonce)));
            done();
          } else if (ev.type === 'error') {
            done(errorFromVortexFrame(ev.code, ev.message, { address, taskId: '-', number: 0 }));
          } else {
            done(new D7yError('D7Y_PROTOCOL_ERROR', `peer ${address} opened the Vortex connection with a ${ev.type} frame instead of the auth challenge`, {
              fix: 'check that the parent runs a d7y version with cluster credentials',
            }));
          }
          return false;
        });
        socket.once('close', onClose);
        clearTimeout(timer);
        timer = setTimeout(() => done(new D7yError('D7Y_UNAUTHENTICATED', `peer ${address} sent no Vortex auth challenge within ${this.connectTimeoutMs} ms: it runs without the cluster credential this node requires`, {
          fix: 'set the same security.clusterSecret on every node of the cluster (or on none)',
        })), this.connectTimeoutMs);
      };
      const onError = (err: Error): void => done(clientSideFailure(err, `peer ${address}`, this.tls) ?? new D7yError('D7Y_PEER_UNAVAILABLE', `cannot connect to peer ${address}: ${err.message}`, {
        fix: 'the parent is down or its upload port is blocked; download from another parent', cause: err,
      }));
      const onClose = (): void => done(clientSideFailure(new Error('other side closed'), `peer ${address}`, this.tls, { tlsLink: Boolean(this.tls), presentedCert: Boolean(this.tls?.identity) })
        ?? new D7yError('D7Y_PEER_UNAVAILABLE', `peer ${address} closed the connection before the Vortex auth challenge`, {
        fix: 'download from another parent',
      }));
      const onAbort = (): void => done(aborted(address, signal as AbortSignal));
      let timer = setTimeout(() => done(new D7yError('D7Y_TIMEOUT', `connecting to peer ${address} took more than ${this.connectTimeoutMs} ms`, {
        fix: 'the parent is unreachable; download from another parent',
      })), this.connectTimeoutMs);
      socket.once(ready, onConnect);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function aborted(address: string, signal: AbortSignal): D7yError {
  return new D7yError('D7Y_ABORTED', `download from ${address} aborted`, { cause: signal.reason });
}
