import type { Server } from 'node:http';
import { createNodeHttpServer, schemeOf } from '../../protocol/tls/http-server.js';
import { NodeTls } from '../../protocol/tls/node-tls.js';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { inject, injectable } from '../../di.js';
import type { NodeConfig } from '../../config/node-config.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import type { SourceRouter } from '../../registry/source-router.js';
import { Tokens } from '../../tokens.js';
import type { Role } from '../role.js';
import { createManagerApp } from './api/http-app.js';
import type { ManagerRoute } from './api/manager-route.js';
import { managerRoutes } from './api/manager-routes.js';
import { openApiDocument } from './api/openapi-document.js';
import { AuditLog } from './audit-log.js';
import { Authenticator } from './auth/authenticator.js';
import { SessionSigner } from './auth/credentials.js';
import { ensureRootUser } from './auth/root-user.js';
import { LoginGuard } from './auth/login-guard.js';
import { loadSessionSecret } from './auth/session-secret.js';
import { pruneSessions } from './auth/sessions.js';
import { ensureSharedNodeToken } from './auth/shared-node-token.js';
import { ensureNodeCredential } from './auth/node-credential.js';
import { databaseKind, openManagerDatabase, type ManagerDb } from './database/manager-database.js';
import { ImageResolver } from './jobs/image-resolver.js';
import { PreheatLimiter } from './jobs/preheat-limiter.js';
import type { ManagerServices } from './manager-services.js';
import { CommandHub } from './commands/command-hub.js';
import { announceJobEnds, announceOffline } from './webhooks/manager-events.js';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';
import { SyncRunner } from './syncs/sync-runner.js';

function httpUrl(host: string, port: number, tls?: NodeTls): string {
  return `${schemeOf(tls)}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}


/**
 * The control plane: a REST API (express) on `manager.listen` over SQLite (embedded) or
 * PostgreSQL, with users and personal access tokens, tenants, audit, scheduler and seed-peer
 * clusters, and jobs that schedulers pick up. Several managers may share one PostgreSQL and one
 * Redis. `port` is the real port once started (listen port 0 = random).
 */
@injectable()
export class ManagerRole implements Role {
  readonly name = 'manager' as const;
  private db?: ManagerDb;
  private server?: Server;
  private limiter?: PreheatLimiter;
  private audit?: AuditLog;
  private webhooks?: WebhookDispatcher;
  private commands?: CommandHub;
  private syncs?: SyncRunner;
  private sweeper?: NodeJS.Timeout;
  private secretReloader?: NodeJS.Timeout;
  private boundPort = 0;
  private draining = false;
  private tls?: NodeTls;
  private routeTable: ManagerRoute[] = [];

  constructor(
    @inject(Tokens.Config) private readonly config: NodeConfig,
    @inject(Tokens.Logger) private readonly logger: Logger,
    @inject(Tokens.Metrics) private readonly metrics: Registry,
    @inject(Tokens.DataDir) private readonly dataDir: string,
    @inject(Tokens.SourceRouter) private readonly sources: SourceRouter,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port` once started. */
  get url(): string {
    return httpUrl(this.config.manager.listen.host, this.boundPort, this.tls);
  }

  /**
   * How the scheduler and peers running beside this manager (`d7y up`) reach it, once started: its
   * URL (loopback when it listens on every address) and the token kept in `credentialFile`,
   * issued at the first start and reused later (see ensureNodeCredential for the file and its errors).
   */
  async nodeLink(credentialFile: string): Promise<{ url: string; token: string }> {
    if (!this.db) throw new D7yError('D7Y_INTERNAL', 'the manager is not started', { fix: 'start the manager before the roles that link to it' });
    const { token } = await ensureNodeCredential({
      file: credentialFile, db: this.db, name: `d7y up on ${hostname()}`, ttlMs: this.config.manager.auth.maxTokenTtl, logger: this.logger,
    });
    const host = this.config.manager.listen.host;
    const local = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
    return { url: httpUrl(local, this.boundPort, this.tls), token };
  }

  /** The API's route table (after start). */
  get routes(): readonly ManagerRoute[] {
    return this.routeTable;
  }

  describe(): Record<string, unknown> {
    const c = this.config.manager;
    return {
      listen: `${c.listen.host}:${this.boundPort || c.listen.port}`,
      database: databaseKind(c.database.url) === 'postgresql' ? 'postgresql' : 'sqlite (embedded)',
      rateLimit: `${c.jobs.preheatRateLimit}/s per cluster${c.redis.url ? ' (shared in Redis)' : ''}`,
      tls: this.tls?.mode ?? 'none',
    };
  }

  async start(): Promise<void> {
    const c = this.config.manager;
    const db = await openManagerDatabase({ url: c.database.url, file: c.database.file, dataDir: this.dataDir, poolSize: c.database.poolSize });
    this.db = db;
    try {
      await this.ensureRoot(db);
      if (c.nodeTokenFile) await ensureSharedNodeToken({ file: c.nodeTokenFile, db, ttlMs: c.auth.maxTokenTtl, logger: this.logger });
      const signer = new SessionSigner(await loadSessionSecret(db), () => loadSessionSecret(db));
      this.secretReloader = setInterval(() => void this.reloadSecret(signer), c.auth.secretReloadInterval);
      this.secretReloader.unref();
      this.limiter = new PreheatLimiter(c.jobs.preheatRateLimit, c.redis.url);
      await this.limiter.start();
      this.audit = new AuditLog(db, this.logger);
      this.webhooks = new WebhookDispatcher(db, c.webhooks, this.logger);
      this.webhooks.start();
      this.commands = new CommandHub();
      this.syncs = new SyncRunner({ db, sources: this.sources, limiter: this.limiter, webhooks: this.webhooks, config: c, logger: this.logger, commands: this.commands });
      const services: ManagerServices = {
        db, config: c, signer, limiter: this.limiter,
        logins: new LoginGuard({ perUser: c.auth.maxFailedLogins, perIp: c.auth.maxFailedLoginsPerIp, windowMs: c.auth.lockoutWindow }), images: new ImageResolver(this.sources), audit: this.audit, logger: this.logger,
        webhooks: this.webhooks, commands: this.commands, syncs: this.syncs, sources: this.sources,
      };
      this.routeTable = managerRoutes(services);
      const doc = openApiDocument(this.routeTable, 'v1');
      const app = createManagerApp({
        routes: this.routeTable, db, authenticator: new Authenticator(db, signer), audit: this.audit, metrics: this.metrics,
        logger: this.logger, openapi: () => doc, health: () => this.health(),
        alive: () => ({ status: 'ok', database: databaseKind(c.database.url) }),
        limits: { maxBodySize: c.listen.maxBodySize, maxJsonDepth: c.listen.maxJsonDepth },
      });
      this.tls = await NodeTls.load(this.config.security.tls, { logger: this.logger, serves: true });
      await this.listen(createNodeHttpServer(this.tls, 'manager', {}, app));
      this.syncs.start();
      this.sweeper = setInterval(() => void this.sweep(), c.jobs.sweepInterval);
      this.sweeper.unref();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.logger.info(this.describe(), 'manager started');
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    clearInterval(this.secretReloader);
    this.secretReloader = undefined;
    this.commands?.close();
    await this.syncs?.stop();
    this.syncs = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => { server.closeAllConnections(); }, 2_000).unref();
      });
    }
    await this.webhooks?.stop();
    this.webhooks = undefined;
    await this.audit?.flush();
    await this.limiter?.stop();
    this.limiter = undefined;
    await this.db?.destroy();
    this.tls?.close();
    if (this.db) this.logger.info('manager stopped');
    this.db = undefined;
  }

  /**
   * Fails job runs and commands past their deadline (announcing the jobs that thereby end, and
   * ending the copy-mode sync runs whose command timed out), announces schedulers, peers and seed peers whose keepalive lapsed, and prunes old audit and download rows (manager.audit.retention) and expired sessions. */
  async sweep(now = Date.now()): Promise<void> {
    const db = this.db;
    if (!db) return;
    try {
      const late = await db.selectFrom('job_runs').select('job_id').where('state', 'in', ['pending', 'running']).where('deadline_at', '<', now).limit(1000).execute();
      await db.updateTable('job_runs').set({ state: 'failed', error: 'timed out before a scheduler finished it', updated_at: now })
        .where('state', 'in', ['pending', 'running']).where('deadline_at', '<', now).execute();
      const copies = await db.selectFrom('commands').select('id').where('type', '=', 'sync_copy').where('state', 'in', ['pending', 'sent']).where('deadline_at', '<', now).limit(1000).execute();
      await db.updateTable('commands').set({ state: 'failed', error: 'not acknowledged in time by its scheduler or peer', updated_at: now })
        .where('state', 'in', ['pending', 'sent']).where('deadline_at', '<', now).execute();
      for (const { id } of copies) await this.syncs?.finishCopyRun(await db.selectFrom('commands').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
      if (this.webhooks) {
        await announceJobEnds(db, this.webhooks, late.map((r) => r.job_id), this.syncs, now);
        await announceOffline(db, this.webhooks, this.config.manager.keepaliveTtl, now);
      }
      await this.audit?.prune(this.config.manager.audit.retention, now);
      await db.deleteFrom('downloads').where('created_at', '<', now - this.config.manager.audit.retention).execute();
      await pruneSessions(db, now);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'manager sweep failed');
    }
  }

  /** Before a stop (SIGTERM): `/readyz` and `/healthy` answer 503 so that load balancers send nothing new. */
  async drain(): Promise<void> {
    this.draining = true;
  }

  private async health(): Promise<Record<string, unknown>> {
    if (this.draining) throw new D7yError('D7Y_PEER_UNAVAILABLE', 'the manager is shutting down', { fix: 'use another manager replica' });
    try {
      await this.db!.selectFrom('settings').select('key').limit(1).execute();
      return { status: 'ok', database: databaseKind(this.config.manager.database.url) };
    } catch (err) {
      throw new D7yError('D7Y_INTERNAL', `manager database unreachable: ${(err as Error).message}`, { cause: err });
    }
  }

  private async listen(server: Server): Promise<void> {
    const { host, port } = this.config.manager.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new D7yError('D7Y_CONFIG_INVALID', `manager cannot listen on ${host}:${port}: ${err.message}`, {
        cause: err, fix: 'choose a free manager.listen.port (0 picks one)',
      })));
      server.listen(port, host, () => resolve());
    });
    server.keepAliveTimeout = 30_000;
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  /** Picks up a secret rotated on the shared database (d7y manager rotate-secret). */
  private async reloadSecret(signer: SessionSigner): Promise<void> {
    if (!this.db) return;
    try {
      await signer.refresh();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'manager could not reload the session signing secret');
    }
  }

  /**
   * Creates the root user on first start (a generated password is printed once on stderr, never
   * logged), and on every start sets root's password to manager.rootPassword when that is set.
   */
  private async ensureRoot(db: ManagerDb): Promise<void> {
    const { generated } = await ensureRootUser(db, this.config.manager.rootPassword, this.logger);
    if (generated) {
      process.stderr.write(`d7y manager: created user "root" with password ${generated} (shown once; d7y login, then d7y passwd, changes it)\n`);
    }
  }
}
