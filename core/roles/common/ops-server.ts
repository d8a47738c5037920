import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Startable } from '../../contracts/startable.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { closeHttpServer } from './close-http-server.js';

/** What an ops route answers: a status, a body (an object is sent as JSON) and its content type. */
export interface OpsResponse {
  status: number;
  body: string | Record<string, unknown>;
  contentType?: string;
}

/** Answers one GET (or HEAD) of an ops route; a throw is a 500 with the error's message. */
export type OpsHandler = (req: IncomingMessage) => Promise<OpsResponse> | OpsResponse;

/** One readiness check: `ok`, and a word on why not. */
export interface ReadyCheck {
  ok: boolean;
  detail?: string;
}

export interface OpsServerOptions {
  /** Which role serves it, for logs and errors (`scheduler`, `peer`, `seed peer`). */
  role: string;
  host: string;
  /** 0 picks a free port; read the real one from `port` after start. */
  port: number;
  logger: Logger;
}

/**
 * A role's small HTTP listener for operations: `/healthz` (the process answers), `/readyz` (the
 * role is ready for traffic, from the checks added with `readiness`) and whatever other read-only
 * routes the role adds with `route` before or after start (e.g. `/metrics`). Only GET and HEAD;
 * an unknown path is a 404 listing the routes.
 */
export class OpsServer implements Startable {
  private readonly routes = new Map<string, OpsHandler>();
  private readonly checks = new Map<string, () => ReadyCheck | Promise<ReadyCheck>>();
  private server?: Server;
  private boundPort = 0;
  private draining = false;

  constructor(private readonly opts: OpsServerOptions) {
    this.route('/healthz', () => ({ status: 200, body: { status: 'ok', role: opts.role } }));
    this.route('/readyz', () => this.readyz());
  }

  /** The port listened on (the real one once started). */
  get port(): number {
    return this.boundPort || this.opts.port;
  }

  /** Adds (or replaces) the handler of `path`. */
  route(path: string, handler: OpsHandler): void {
    this.routes.set(path, handler);
  }

  /** Adds a named check that `/readyz` runs; it answers 200 only when every check is ok. */
  readiness(name: string, check: () => ReadyCheck | Promise<ReadyCheck>): void {
    this.checks.set(name, check);
  }

  /** From now on `/readyz` answers 503 `draining`, so load balancers send nothing new. */
  drain(): void {
    this.draining = true;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new D7yError('D7Y_CONFIG_INVALID',
        `the ${this.opts.role}'s ops listener cannot listen on ${this.opts.host}:${this.opts.port}: ${err.message}`, {
          cause: err, fix: `choose a free ops port for the ${this.opts.role} (ops.port; 0 picks one) or turn it off (ops.enabled: false)`,
        })));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.opts.logger.info({ host: this.opts.host, port: this.boundPort, routes: [...this.routes.keys()] }, 'ops: listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeHttpServer(server);
  }

  private async readyz(): Promise<OpsResponse> {
    const checks: Record<string, ReadyCheck> = {};
    for (const [name, check] of this.checks) {
      try {
        checks[name] = await check();
      } catch (err) {
        checks[name] = { ok: false, detail: (err as Error).message };
      }
    }
    if (this.draining) checks.draining = { ok: false, detail: 'shutting down' };
    const ready = Object.values(checks).every((c) => c.ok);
    return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', role: this.opts.role, checks } };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    let out: OpsResponse;
    const handler = this.routes.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      out = { status: 405, body: { code: 'D7Y_INVALID_ARGUMENT', message: `${req.method} is not served here`, fix: 'use GET' } };
    } else if (!handler) {
      out = { status: 404, body: { code: 'D7Y_NOT_FOUND', message: `no such endpoint: ${path}`, fix: `use one of ${[...this.routes.keys()].join(', ')}` } };
    } else {
      try {
        out = await handler(req);
      } catch (err) {
        out = { status: 500, body: { code: (err as D7yError).code ?? 'D7Y_INTERNAL', message: (err as Error).message } };
      }
    }
    const text = typeof out.body === 'string' ? out.body : `${JSON.stringify(out.body)}\n`;
    res.writeHead(out.status, {
      'content-type': out.contentType ?? (typeof out.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json'),
      'content-length': Buffer.byteLength(text),
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  }
}
