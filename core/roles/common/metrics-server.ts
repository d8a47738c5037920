import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { MetricsConfig } from '../../config/metrics-config.js';
import type { Startable } from '../../contracts/startable.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { closeHttpServer } from './close-http-server.js';

/** Answers one GET route of the listener; it must end the response. */
export type OpsRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface MetricsServerOptions {
  config: MetricsConfig;
  registry: Registry;
  logger: Logger;
  /** The config path of the block, for errors (`scheduler.metrics`, `peer.metrics`). */
  configPath: string;
}

/**
 * A role's small operations listener: `GET /metrics` in the Prometheus text format from the
 * role's registry, plus the GET routes other parts of the role add before start (`addRoute`).
 * Anything else is answered 404. It binds only when `config.enabled`.
 */
export class MetricsServer implements Startable {
  private readonly routes = new Map<string, OpsRoute>();
  private server?: Server;
  private boundPort = 0;

  constructor(private readonly opts: MetricsServerOptions) {
    this.routes.set('/metrics', async (_req, res) => {
      const body = await opts.registry.metrics();
      res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
    });
  }

  /** Adds a GET route (e.g. `/healthz`); refused for a path that has one. */
  addRoute(path: string, handler: OpsRoute): void {
    if (this.routes.has(path)) throw new D7yError('D7Y_INTERNAL', `the ops listener already answers ${path}`, { fix: 'report this as a bug' });
    this.routes.set(path, handler);
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
      server.once('error', (err) => reject(new D7yError('D7Y_CONFIG_INVALID', `the metrics listener cannot listen on ${listen.host}:${listen.port}: ${err.message}`, {
        cause: err, fix: `choose a free ${this.opts.configPath}.listen.port (0 picks one), or set ${this.opts.configPath}.enabled to false`,
      })));
      server.listen(listen.port, listen.host, () => resolve());
    });
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : listen.port;
    this.server = server;
    this.opts.logger.info({ metrics: `${this.url}/metrics` }, 'metrics listener started');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeHttpServer(server);
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = this.routes.get(path);
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(route ? 405 : 404, { 'content-type': 'text/plain' }).end(route ? 'only GET\n' : `no route ${path}; try /metrics\n`);
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      this.opts.logger.warn({ path, err: String(err) }, 'ops listener route failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${path} failed: ${String(err)}\n`);
    });
  }
}
