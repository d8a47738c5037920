import { sql } from 'kysely';
import { z } from 'zod';
import type { ManagerServices } from '../../manager-services.js';
import { route, type ManagerRoute } from '../manager-route.js';

const AuditQuery = z.strictObject({
  actor_type: z.enum(['unknown', 'user', 'pat']).optional(),
  actor_name: z.string().max(255).optional(),
  method: z.string().max(16).transform((m) => m.toUpperCase()).optional(),
  /** Prefix of the request path. */
  path: z.string().max(2048).optional(),
  status: z.coerce.number().int().min(100).max(599).optional(),
  success: z.enum(['true', 'false']).optional(),
  /** ISO time or ms since the epoch: only rows at or after it. */
  since: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The audit log of the caller's tenant, newest first, filtered. */
export function auditRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    route({
      method: 'get', path: '/api/v1/audits', summary: 'List audit records of the tenant, newest first (root also sees calls refused before authentication)', auth: 'session', query: AuditQuery,
      async handle({ principal, query }) {
        await s.audit.flush();
        let q = s.db.selectFrom('audits').selectAll().where((eb) => (principal.role === 'root'
          ? eb.or([eb('tenant_id', '=', principal.tenantId), eb('tenant_id', 'is', null)])
          : eb('tenant_id', '=', principal.tenantId)));
        if (query.actor_type) q = q.where('actor_type', '=', query.actor_type);
        if (query.actor_name) q = q.where('actor_name', '=', query.actor_name);
        if (query.method) q = q.where('method', '=', query.method);
        if (query.path) q = q.where(sql<string>`substr(path, 1, ${query.path.length})`, '=', query.path);
        if (query.status) q = q.where('status', '=', query.status);
        if (query.success) q = q.where('success', '=', query.success === 'true' ? 1 : 0);
        if (query.since) {
          const t = /^\d+$/.test(query.since) ? Number(query.since) : Date.parse(query.since);
          if (Number.isFinite(t)) q = q.where('created_at', '>=', t);
        }
        const rows = await q.orderBy('created_at', 'desc').orderBy('id').limit(query.limit).execute();
        return rows.map((r) => ({
          id: r.id, actor_type: r.actor_type, actor_name: r.actor_name, event_type: 'API', method: r.method, path: r.path,
          status: r.status, success: r.success === 1, detail: JSON.parse(r.detail) as unknown, created_at: new Date(r.created_at).toISOString(),
        }));
      },
    }),
  ];
}
