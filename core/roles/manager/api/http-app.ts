import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { ManagerMetrics } from '../manager-metrics.js';
import { z } from 'zod';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import { httpStatusOf } from '../../../errors/error-status.js';
import type { Logger } from '../../../logging/logger.js';
import { bearerOf, type Authenticator } from '../auth/authenticator.js';
import type { AuditLog } from '../audit-log.js';
import type { ManagerDb } from '../database/manager-database.js';
import { mountConsole } from './console-assets.js';
import { jsonDeeperThan, requestErrorOf, TOO_DEEP } from './request-limits.js';
import { Reply, type ManagerRoute, type Principal, type ResourceKind } from './manager-route.js';

const RESOURCE_TABLES: Record<ResourceKind, 'jobs' | 'scheduler_clusters' | 'seed_peer_clusters' | 'personal_access_tokens' | 'schedulers' | 'seed_peers' | 'peers' | 'webhooks' | 'commands' | 'syncs'> = {
  'job': 'jobs',
  'scheduler-cluster': 'scheduler_clusters',
  'seed-peer-cluster': 'seed_peer_clusters',
  'token': 'personal_access_tokens',
  'scheduler': 'schedulers',
  'seed-peer': 'seed_peers',
  'peer': 'peers',
  'webhook': 'webhooks',
  'command': 'commands',
  'sync': 'syncs',
};

/** Resources whose rows also have an integer alias (`number`) a caller may give as `:id`. */
const NUMBERED: ReadonlySet<ResourceKind> = new Set(['job', 'scheduler-cluster']);

const ANONYMOUS: Principal = { kind: 'user', tenantId: '', userId: '', name: '', role: 'user', scopes: [] };

export interface ManagerAppOptions {
  routes: ManagerRoute[];
  db: ManagerDb;
  authenticator: Authenticator;
  audit: AuditLog;
  metrics: Registry;
  logger: Logger;
  openapi: () => unknown;
  /** Ready for traffic: the database answers (and the manager is not shutting down); throws otherwise. */
  health: () => Promise<Record<string, unknown>>;
  /** Alive: answered without touching the database, so a database outage does not get the manager restarted. */
  alive: () => Record<string, unknown>;
  /** The built web console served at `/` (default: the package's dist/console). */
  consoleDir?: string;
  /** Request body limits (manager.listen). */
  limits: { maxBodySize: number; maxJsonDepth: number };
}

/** `a.b.0.c: reason; …` and the same as a list, from a zod error. */
export function describeZodError(err: z.ZodError, root: string): { message: string; issues: { path: string; message: string }[] } {
  const issues = err.issues.map((i) => ({ path: [root, ...i.path.map(String)].filter(Boolean).join('.') || root, message: i.message }));
  return { message: issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`).join('; '), issues };
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, root: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const { message, issues } = describeZodError(r.error, root);
  throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid request ${root}: ${message}`, {
    fix: 'correct the fields named above (see /openapi.json)', details: { issues },
  });
}

/**
 * The manager's HTTP API as an express app: every route of the table behind authentication,
 * scope, root-role and tenant checks; every `/api` and `/oapi` call audited (the cluster's successful
 * keepalives, job claims and scheduler discovery excepted); errors as
 * `{ code, message, fix, details }` with the status of httpStatusOf.
 */
export function createManagerApp(opts: ManagerAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const metrics = new ManagerMetrics(opts.metrics);
  const { requests, seconds } = metrics;

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const routePattern = (res.locals.route as string | undefined) ?? 'unmatched';
      requests.inc({ method: req.method, route: routePattern, status: String(res.statusCode) });
      seconds.observe({ method: req.method, route: routePattern }, Number(process.hrtime.bigint() - started) / 1e9);
      const path = req.originalUrl.split('?')[0] ?? '';
      if (!path.startsWith('/api/') && !path.startsWith('/oapi/')) return;
      if (res.locals.auditFailuresOnly === true && res.statusCode < 400) return;
      const p = res.locals.principal as Principal | undefined;
      opts.audit.record({
        tenant_id: p?.tenantId || null, actor_type: p ? (p.kind === 'pat' ? 'pat' : 'user') : 'unknown', actor_name: p?.name ?? '',
        method: req.method, path: path.slice(0, 2048), status: res.statusCode,
        detail: { route: res.locals.route as string | undefined, ip: req.socket.remoteAddress, error: res.locals.errorCode as string | undefined },
      });
    });
    next();
  });
  app.use(express.json({
    limit: opts.limits.maxBodySize,
    verify: (_req, _res, buf) => {
      if (jsonDeeperThan(buf, opts.limits.maxJsonDepth)) throw Object.assign(new Error('JSON body too deep'), { type: TOO_DEEP, status: 400 });
    },
  }));

  app.get('/healthz', (_req, res) => {
    res.locals.route = '/healthz';
    res.json(opts.alive());
  });
  app.get('/readyz', async (_req, res) => {
    res.locals.route = '/readyz';
    try {
      res.json({ ...await opts.health(), status: 'ready' });
    } catch (err) {
      res.status(503).json({ status: 'not ready', message: (err as Error).message });
    }
  });
  app.get('/metrics', async (_req, res) => {
    res.locals.route = '/metrics';
    res.type(opts.metrics.contentType).send(await opts.metrics.metrics());
  });
  app.get('/healthy', async (_req, res) => {
    res.locals.route = '/healthy';
    await opts.health();
    res.json('OK');
  });
  app.get('/openapi.json', (_req, res) => {
    res.locals.route = '/openapi.json';
    res.json(opts.openapi());
  });

  for (const r of opts.routes) {
    app[r.method](r.path, async (req: Request, res: Response) => {
      res.locals.route = r.path;
      res.locals.auditFailuresOnly = r.audit === 'failures';
      const params = { ...req.params } as Record<string, string>;
      const dialect = r.dialect?.applies({ body: req.body as unknown, query: req.query as Record<string, unknown>, params }) ? r.dialect : undefined;
      let principal = ANONYMOUS;
      if (r.auth !== 'public') {
        principal = await opts.authenticator.authenticate(bearerOf(req.headers.authorization), r.auth);
        res.locals.principal = principal;
        if (r.scope && !principal.scopes.includes(r.scope)) {
          throw new D7yError('D7Y_PERMISSION_DENIED', `this token lacks the "${r.scope}" scope that ${r.method.toUpperCase()} ${r.path} needs`, {
            fix: `create a token with scope ${r.scope}`,
          });
        }
        if (r.rootOnly && principal.role !== 'root') {
          throw new D7yError('D7Y_PERMISSION_DENIED', `${r.method.toUpperCase()} ${r.path} is for the root user only`, { fix: 'ask the root user' });
        }
        if (r.resource) params.id = await checkOwner(opts.db, r.resource, String(params.id), principal);
      }
      const body = parse(dialect?.body ?? r.body, req.body, 'body');
      const query = parse(dialect?.query ?? r.query, req.query, 'query');
      const out = await r.handle({ principal, body, query, params, ip: req.socket.remoteAddress ?? '', dialect: dialect?.name });
      if (out instanceof Reply) res.set(out.headers).status(out.status).json(out.body);
      else res.status(r.status ?? 200).json(out);
    });
  }

  mountConsole(app, opts.consoleDir);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new D7yError('D7Y_NOT_FOUND', `no route ${req.method} ${req.path}`, { fix: 'see /openapi.json for the routes' }));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const refused = requestErrorOf(err, opts.limits);
    const e = refused?.error ?? toD7yError(err);
    const status = refused?.status ?? httpStatusOf(e);
    res.locals.errorCode = e.code;
    metrics.errors.inc({ code: e.code });
    if (status >= 500) opts.logger.error({ err: e.message, code: e.code }, 'manager API error');
    const details = e.details && status < 500 ? e.details : undefined;
    if (e.code === 'D7Y_RATE_LIMITED' && typeof e.details?.retryAfterMs === 'number') res.set('Retry-After', String(Math.ceil(e.details.retryAfterMs / 1000)));
    res.status(status).json({ code: e.code, message: status >= 500 && !(err instanceof D7yError) ? 'internal error' : e.message, fix: e.fix, details });
  });
  return app;
}

/** The id of the `kind` row named by `id` (its id, or its integer alias), once it is known to belong to the caller's tenant. */
async function checkOwner(db: ManagerDb, kind: ResourceKind, id: string, principal: Principal): Promise<string> {
  const table = RESOURCE_TABLES[kind];
  const row = NUMBERED.has(kind) && /^[1-9][0-9]{0,15}$/.test(id)
    ? await db.selectFrom(table as 'jobs' | 'scheduler_clusters').select(['id', 'tenant_id']).where('number', '=', Number(id)).executeTakeFirst()
    : await db.selectFrom(table).select(['id', 'tenant_id']).where('id', '=', id).executeTakeFirst();
  if (!row) throw new D7yError('D7Y_NOT_FOUND', `${kind} ${id} not found`, { fix: `list the ${kind}s for valid ids` });
  if (row.tenant_id !== principal.tenantId) {
    throw new D7yError('D7Y_PERMISSION_DENIED', `${kind} ${id} belongs to another tenant`, { fix: 'use a token of the tenant that owns it' });
  }
  return row.id;
}
