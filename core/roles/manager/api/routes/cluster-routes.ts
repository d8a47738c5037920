import { randomUUID } from 'node:crypto';
import { D7yError } from '../../../../errors/d7y-error.js';
import {
  NewSchedulerClusterSchema, NewSeedPeerClusterSchema, UpdateSchedulerClusterSchema,
} from '../../clusters/cluster-schemas.js';
import { withNextNumber } from '../../database/next-number.js';
import type { SchedulerClusterTable, SeedPeerClusterTable } from '../../database/schema.js';
import type { ManagerServices } from '../../manager-services.js';
import { consoleAndOpen, route, type ManagerRoute } from '../manager-route.js';

/** A scheduler cluster as the API shows it. */
export function clusterView(c: SchedulerClusterTable): Record<string, unknown> {
  return {
    id: c.id, number: c.number, name: c.name, scopes: JSON.parse(c.scopes) as unknown, config: JSON.parse(c.config) as unknown,
    client_config: JSON.parse(c.client_config) as unknown, is_default: c.is_default === 1, seed_peer_cluster_id: c.seed_peer_cluster_id,
    created_at: new Date(c.created_at).toISOString(), updated_at: new Date(c.updated_at).toISOString(),
  };
}

function seedClusterView(c: SeedPeerClusterTable): Record<string, unknown> {
  return { id: c.id, name: c.name, config: JSON.parse(c.config) as unknown, created_at: new Date(c.created_at).toISOString() };
}

/** Scheduler clusters (console and open API) and seed-peer clusters (console), per tenant. */
export function clusterRoutes(s: ManagerServices): ManagerRoute[] {
  const byId = (id: string) => s.db.selectFrom('scheduler_clusters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return [
    ...consoleAndOpen('/api/v1/scheduler-clusters', '/oapi/v1/clusters', 'cluster', {
      method: 'get', summary: 'List scheduler clusters of the tenant',
      async handle({ principal }) {
        const rows = await s.db.selectFrom('scheduler_clusters').selectAll().where('tenant_id', '=', principal.tenantId).orderBy('name').execute();
        return rows.map(clusterView);
      },
    }),
    ...consoleAndOpen('/api/v1/scheduler-clusters', '/oapi/v1/clusters', 'cluster', {
      method: 'post', summary: 'Create a scheduler cluster', body: NewSchedulerClusterSchema, status: 201,
      async handle({ principal, body }) {
        const dup = await s.db.selectFrom('scheduler_clusters').select('id')
          .where('tenant_id', '=', principal.tenantId).where('name', '=', body.name).executeTakeFirst();
        if (dup) throw new D7yError('D7Y_CONFLICT', `scheduler cluster "${body.name}" exists`, { fix: 'choose another name, or update it' });
        if (body.seed_peer_cluster_id) {
          const sp = await s.db.selectFrom('seed_peer_clusters').select('tenant_id').where('id', '=', body.seed_peer_cluster_id).executeTakeFirst();
          if (!sp || sp.tenant_id !== principal.tenantId) {
            throw new D7yError('D7Y_NOT_FOUND', `seed-peer cluster ${body.seed_peer_cluster_id} not found`, { fix: 'list seed-peer clusters for valid ids' });
          }
        }
        const now = Date.now();
        const row = await withNextNumber(s.db, 'scheduler_clusters', async (number) => {
          const r: SchedulerClusterTable = {
            id: randomUUID(), tenant_id: principal.tenantId, name: body.name, scopes: JSON.stringify(body.scopes),
            config: JSON.stringify(body.config), client_config: JSON.stringify(body.client_config), is_default: body.is_default ? 1 : 0,
            seed_peer_cluster_id: body.seed_peer_cluster_id ?? null, created_at: now, updated_at: now, number,
          };
          await s.db.insertInto('scheduler_clusters').values(r).execute();
          return r;
        });
        return clusterView(row);
      },
    }),
    ...consoleAndOpen('/api/v1/scheduler-clusters/:id', '/oapi/v1/clusters/:id', 'cluster', {
      method: 'get', summary: 'Get a scheduler cluster', resource: 'scheduler-cluster',
      async handle({ params }) {
        return clusterView(await byId(params.id));
      },
    }),
    ...consoleAndOpen('/api/v1/scheduler-clusters/:id', '/oapi/v1/clusters/:id', 'cluster', {
      method: 'patch', summary: 'Update scopes or dynamic config (applied by schedulers and peers without restart)',
      resource: 'scheduler-cluster', body: UpdateSchedulerClusterSchema,
      async handle({ params, body }) {
        const set: Partial<SchedulerClusterTable> = { updated_at: Date.now() };
        if (body.scopes) set.scopes = JSON.stringify(body.scopes);
        if (body.config) set.config = JSON.stringify(body.config);
        if (body.client_config) set.client_config = JSON.stringify(body.client_config);
        if (body.is_default !== undefined) set.is_default = body.is_default ? 1 : 0;
        await s.db.updateTable('scheduler_clusters').set(set).where('id', '=', params.id).execute();
        return clusterView(await byId(params.id));
      },
    }),
    ...consoleAndOpen('/api/v1/scheduler-clusters/:id', '/oapi/v1/clusters/:id', 'cluster', {
      method: 'delete', summary: 'Delete a scheduler cluster and its scheduler records', resource: 'scheduler-cluster',
      async handle({ params }) {
        await s.db.deleteFrom('schedulers').where('cluster_id', '=', params.id).execute();
        await s.db.deleteFrom('scheduler_clusters').where('id', '=', params.id).execute();
        return { id: params.id, deleted: true };
      },
    }),
    route({
      method: 'get', path: '/api/v1/seed-peer-clusters', summary: 'List seed-peer clusters of the tenant', auth: 'session',
      async handle({ principal }) {
        const rows = await s.db.selectFrom('seed_peer_clusters').selectAll().where('tenant_id', '=', principal.tenantId).orderBy('name').execute();
        return rows.map(seedClusterView);
      },
    }),
    route({
      method: 'post', path: '/api/v1/seed-peer-clusters', summary: 'Create a seed-peer cluster', auth: 'session',
      body: NewSeedPeerClusterSchema, status: 201,
      async handle({ principal, body }) {
        const dup = await s.db.selectFrom('seed_peer_clusters').select('id')
          .where('tenant_id', '=', principal.tenantId).where('name', '=', body.name).executeTakeFirst();
        if (dup) throw new D7yError('D7Y_CONFLICT', `seed-peer cluster "${body.name}" exists`, { fix: 'choose another name' });
        const now = Date.now();
        const row: SeedPeerClusterTable = {
          id: randomUUID(), tenant_id: principal.tenantId, name: body.name, config: JSON.stringify(body.config), created_at: now, updated_at: now,
        };
        await s.db.insertInto('seed_peer_clusters').values(row).execute();
        return seedClusterView(row);
      },
    }),
    route({
      method: 'delete', path: '/api/v1/seed-peer-clusters/:id', summary: 'Delete a seed-peer cluster and its seed peer records',
      auth: 'session', resource: 'seed-peer-cluster',
      async handle({ params }) {
        await s.db.deleteFrom('seed_peers').where('cluster_id', '=', params.id).execute();
        await s.db.deleteFrom('seed_peer_clusters').where('id', '=', params.id).execute();
        return { id: params.id, deleted: true };
      },
    }),
  ];
}
