import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createNodeHttpServer } from '../../../protocol/tls/http-server.js';
import type { NodeTls } from '../../../protocol/tls/node-tls.js';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Startable } from '../../../contracts/startable.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import { httpStatusOf } from '../../../errors/error-status.js';
import { CLUSTER_AUTH_HEADER, type ClusterAuth } from '../../../protocol/auth/cluster-auth.js';
import { unauthenticated } from '../../../protocol/auth/grpc-auth.js';
import type { RefusalLog } from '../../../protocol/auth/refusal-log.js';
import type { UploadPieceProvider } from './upload-piece-provider.js';
import { closeHttpServer } from '../../common/close-http-server.js';

/** The request header that proves cluster membership to a piece HTTP server (`method`: GET or HEAD). */
export function pieceHttpAuthHeader(auth: ClusterAuth, taskId: string, number: number, method = 'GET'): Record<string, string> {
  return { [CLUSTER_AUTH_HEADER]: auth.memberProof(`${method} /pieces/${taskId}/${number}`) };
}

/**
 * `GET /pieces/<taskId>/<n>` over HTTP, with single `bytes=` Range support: one piece of a task
 * this peer holds, for tools and debugging. Headers carry the piece's offset and digest. With
 * `auth`, a request must carry `x-d7y-cluster-auth` (see pieceHttpAuthHeader), else it gets 401.
 */
export class PieceHttpServer implements Startable {
  private server?: Server;
  private actualPort = 0;

  constructor(private readonly opts: {
    host: string; port: number; provider: UploadPieceProvider; auth?: ClusterAuth; refusals?: RefusalLog; tls?: NodeTls;
  }) {}

  get port(): number {
    return this.actualPort || this.opts.port;
  }

  async start(): Promise<void> {
    const server = createNodeHttpServer(this.opts.tls, 'piece http', {}, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = toD7yError(err);
        if (res.headersSent) return void res.destroy();
        res.writeHead(httpStatusOf(e), { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: e.code, message: e.message, fix: e.fix }));
      });
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new D7yError('D7Y_CONFIG_INVALID', `the piece HTTP server cannot listen on ${this.opts.host}:${this.opts.port}: ${err.message}`, {
        fix: 'choose a free peer.pieceHttp.port (0 picks one)', cause: err,
      })));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.actualPort = (server.address() as AddressInfo).port;
  }

  /** Stops taking connections and closes the idle ones; requests under way go on until `stop`. */
  stopAccepting(): void {
    if (!this.server?.listening) return;
    this.server.close();
    this.server.closeIdleConnections();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeHttpServer(server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/pieces\/([0-9a-f]{64})\/(\d{1,10})$/.exec((req.url ?? '/').split('?')[0]!);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) {
      throw new D7yError('D7Y_NOT_FOUND', `no such endpoint: ${req.method} ${req.url}`, { fix: 'use GET /pieces/<taskId>/<piece number>' });
    }
    const taskId = m[1];
    const number = Number(m[2]);
    if (this.opts.auth) {
      const sent = req.headers[CLUSTER_AUTH_HEADER];
      const why = this.opts.auth.checkMember(typeof sent === 'string' ? sent : undefined, `${req.method} /pieces/${taskId}/${number}`);
      if (why) {
        this.opts.refusals?.refused(`${req.socket.remoteAddress}:${req.socket.remotePort}`, `${req.method} /pieces/${taskId}/${number}`, `${why} cluster credential`);
        throw unauthenticated(`piece HTTP server ${this.opts.host}:${this.port}`, `${req.method} ${req.url}`, why);
      }
    }
    const whole = await this.opts.provider.getPiece({ taskId, number });
    const length = whole.meta.length;
    whole.body.destroy();
    let range: { start: number; length: number } | undefined;
    const header = req.headers.range;
    if (header) {
      range = parseRange(header, length);
      if (!range) {
        res.writeHead(416, { 'content-range': `bytes */${length}` });
        return void res.end();
      }
    }
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream', 'accept-ranges': 'bytes',
      'x-d7y-piece-offset': whole.meta.offset, 'x-d7y-piece-digest': whole.meta.digest,
      'content-length': range?.length ?? length,
    };
    if (range) headers['content-range'] = `bytes ${range.start}-${range.start + range.length - 1}/${length}`;
    if (req.method === 'HEAD') {
      res.writeHead(range ? 206 : 200, headers);
      return void res.end();
    }
    const { body } = await this.opts.provider.getPiece({ taskId, number }, range);
    res.writeHead(range ? 206 : 200, headers);
    await pipeline(body, res);
  }
}

function parseRange(header: string, size: number): { start: number; length: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Math.min(Number(m[2]), size);
    return n === 0 ? undefined : { start: size - n, length: n };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? undefined : { start, length: end - start + 1 };
}
