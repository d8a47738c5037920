import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { MetricsConfig } from '../../config/metrics-config.js';
import type { Startable } from '../../contracts/startable.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { closeHttpServer } from './close-http-server.js';

/** Answers one GET route of the listener; it must end the response. */
export type OpsRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** One readiness check: `ok`, and a word on why not. */
export interface ReadyCheck {
  ok: boolean;
  detail?: string;
}

export interface MetricsServerOptions {
  config: MetricsConfig;
  registry: Registry;
  logger: Logger;
  /** The config path of the block, for errors (`scheduler.metrics`, `peer.metrics`). */
  configPath: string;
  /** Which role serves it, for `/healthz` and `/readyz` (`scheduler`, `peer`, `seed peer`). */
  role: string;
}

/**
 * A role's small operations listener: `GET /metrics` in the Prometheus text format from the
 * role's registry, `/healthz` (the process answers), `/readyz` (the role is ready for traffic:
 * every check added with `readiness` is ok and the role is not draining), plus the GET routes other
 * parts of the role add (`addRoute`). Anything else is answered 404. It binds only when `config.enabled`.
 */
export class MetricsServer implements Startable {
  private readonly routes = new Map<string, OpsRoute>();
  private readonly checks = new Map<string, () => ReadyCheck | Promise<ReadyCheck>>();
  private server?: Server;
  private boundPort = 0;
  private draining = false;

  constructor(private readonly opts: MetricsServerOptions) {
    this.routes.set('/metrics', async (_req, res) => {
      const body = await opts.registry.metrics();
      res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
    });
    this.routes.set('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok', role: opts.role }));
    this.routes.set('/readyz', async (_req, res) => {
      const { ready, checks } = await this.evaluate();
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', role: opts.role, checks });
    });
  }

  /** Adds a GET route (e.g. `/readyz/manager`); refused for a path that has one. */
  addRoute(path: string, handler: OpsRoute): void {
    if (this.routes.has(path)) throw new D7yError('D7Y_INTERNAL', `the ops listener already answers ${path}`, { fix: 'report this as a bug' });
    this.routes.set(path, handler);
  }

  /** Adds a named check that `/readyz` runs; it answers 200 only when every check is ok. */
  readiness(name: string, check: () => ReadyCheck | Promise<ReadyCheck>): void {
    this.checks.set(name, check);
  }

  /** From now on `/readyz` answers 503 (`draining`), so load balancers send nothing new. */
  drain(): void {
    this.draining = true;
  }

  /** The bound port (0 before start, or when disabled). */
  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port`, once started; undefined when disabled. */
  get url(): string | undefined {
    if (!this.server) return undefined;
    const { host } = this.opts.config.listen;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    const { enabled, listen } = this.opts.config;
    if (!enabled) return;
    const server = createServer((req, res) => this.answer(req, res));
    server.keepAliveTimeout = 5_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new D7yError('D7Y_CONFIG_INVALID', `the ${this.opts.role}'s metrics listener cannot listen on ${listen.host}:${listen.port}: ${err.message}`, {
        cause: err, fix: `choose a free ${this.opts.configPath}.listen.port (0 picks one), or set ${this.opts.configPath}.enabled to false`,
      })));
      server.listen(listen.port, listen.host, () => resolve());
    });
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : listen.port;
    this.server = server;
    this.opts.logger.info({ metrics: `${this.url}/metrics`, routes: [...this.routes.keys()] }, 'metrics listener started');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeHttpServer(server);
  }

  private async evaluate(): Promise<{ ready: boolean; checks: Record<string, ReadyCheck> }> {
    const checks: Record<string, ReadyCheck> = {};
    for (const [name, check] of this.checks) {
      try {
        checks[name] = await check();
      } catch (err) {
        checks[name] = { ok: false, detail: (err as Error).message };
      }
    }
    if (this.draining) checks.draining = { ok: false, detail: 'shutting down' };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = this.routes.get(path);
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(route ? 405 : 404, { 'content-type': 'text/plain' })
        .end(route ? 'only GET\n' : `no route ${path}; try one of ${[...this.routes.keys()].join(', ')}\n`);
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      this.opts.logger.warn({ path, err: String(err) }, 'ops listener route failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${path} failed: ${String(err)}\n`);
    });
  }
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
