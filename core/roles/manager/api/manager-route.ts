import type { z } from 'zod';

export type TokenScope = 'job' | 'cluster';
export const TOKEN_SCOPES: readonly TokenScope[] = ['job', 'cluster'];

/** Who made a call: a console user (session token) or a personal access token. */
export interface Principal {
  kind: 'user' | 'pat';
  tenantId: string;
  userId: string;
  /** The user's name, or the token's name for a PAT. */
  name: string;
  role: 'root' | 'user';
  scopes: readonly TokenScope[];
}

/** Tables whose rows belong to a tenant, by the `:id` path parameter of a route. */
export type ResourceKind = 'job' | 'scheduler-cluster' | 'seed-peer-cluster' | 'token' | 'scheduler' | 'seed-peer';

export interface RouteContext<B, Q> {
  /** The caller; an anonymous principal on public routes. */
  principal: Principal;
  body: B;
  query: Q;
  params: Record<string, string>;
  ip: string;
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
