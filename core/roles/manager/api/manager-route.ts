import type { z } from 'zod';

/**
 * `job`: jobs, sync jobs and webhooks; `cluster`: clusters, discovery, the cluster credential and
 * commands; `seed`: also the seed credential (schedulers and seed peers); `persistent_cache`:
 * persistent-cache tasks.
 */
export type TokenScope = 'job' | 'cluster' | 'persistent_cache' | 'seed';
export const TOKEN_SCOPES: readonly TokenScope[] = ['job', 'cluster', 'persistent_cache', 'seed'];

/** Who made a call: a console user (session token) or a personal access token. */
export interface Principal {
  kind: 'user' | 'pat';
  tenantId: string;
  userId: string;
  /** The user's name, or the token's name for a PAT. */
  name: string;
  role: 'root' | 'user';
  scopes: readonly TokenScope[];
  /** The console session the call came with (session tokens only). */
  sessionId?: string;
}

/** Tables whose rows belong to a tenant, by the `:id` path parameter of a route. */
export type ResourceKind = 'job' | 'scheduler-cluster' | 'seed-peer-cluster' | 'token' | 'scheduler' | 'seed-peer' | 'peer' | 'webhook' | 'command' | 'sync';

export interface RouteContext<B, Q> {
  /** The caller; an anonymous principal on public routes. */
  principal: Principal;
  /** Parsed with the route's schema, or with its dialect's when `dialect` is set. */
  body: B;
  query: Q;
  /** Path parameters; `id` is the row's id even when the caller gave its integer alias. */
  params: Record<string, string>;
  ip: string;
  /** The route's dialect, when the request is in it (see RouteDialect). */
  dialect?: RouteDialect['name'];
}

/** What a dialect sees of a request before anything is parsed. */
export interface RawRequest {
  body: unknown;
  query: Record<string, unknown>;
  params: Record<string, string>;
}

/**
 * A second request and answer shape a route also speaks: Dragonfly's open API, for tools written
 * against Dragonfly's manager (Harbor's preheat provider). When `applies` holds for a request, its
 * schemas replace the route's and the handler answers in Dragonfly's shapes.
 */
export interface RouteDialect {
  name: 'dragonfly';
  /** When it applies, in words, for the OpenAPI document. */
  when: string;
  applies(req: RawRequest): boolean;
  body?: z.ZodType;
  query?: z.ZodType;
}

/** An answer whose status or headers a handler chooses (a handler may return one instead of a body). */
export class Reply {
  constructor(readonly status: number, readonly body: unknown, readonly headers: Record<string, string> = {}) {}
}

/**
 * One route of the manager API. The app authenticates (`auth`), checks the scope and the root
 * role, checks that the `:id` row of `resource` belongs to the caller's tenant (403 otherwise),
 * validates `body` and `query` (400 with the JSON path), then calls `handle`.
 */
export interface ManagerRoute<B = unknown, Q = unknown> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  summary: string;
  /** `session`: console token from signin (`/api/v1`); `pat`: personal access token (`/oapi/v1`). */
  auth: 'public' | 'session' | 'pat';
  scope?: TokenScope;
  rootOnly?: boolean;
  resource?: ResourceKind;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /** Status of a successful answer (200 unless set). */
  status?: number;
  dialect?: RouteDialect;
  /**
   * `failures`: the cluster's own periodic calls (keepalives, a scheduler's job claim every second)
   * are audited only when they fail, or they would bury the users' calls under ~90 000 rows a day.
   */
  audit?: 'failures';
  handle(ctx: RouteContext<B, Q>): Promise<unknown>;
}

/** Builds a route with its body and query types inferred from the schemas. */
export function route<B = undefined, Q = Record<string, never>>(r: ManagerRoute<B, Q>): ManagerRoute {
  return r as unknown as ManagerRoute;
}

/** The same handler on the console API (session) and on the open API (PAT with `scope`). */
export function consoleAndOpen<B, Q>(consolePath: string, openPath: string, scope: TokenScope,
  r: Omit<ManagerRoute<B, Q>, 'path' | 'auth' | 'scope'>): ManagerRoute[] {
  return [
    route<B, Q>({ ...r, path: consolePath, auth: 'session' }),
    route<B, Q>({ ...r, path: openPath, auth: 'pat', scope }),
  ];
}
