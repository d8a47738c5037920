import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { PeerQuerySchema, RegisterSchedulerSchema, RegisterSeedPeerSchema } from '../../clusters/cluster-schemas.js';
import { rankClusters, type ClusterScopes } from '../../clusters/scheduler-searcher.js';
import type { ManagerDb } from '../../database/manager-database.js';
import { withNextNumber } from '../../database/next-number.js';
import type { ManagerServices } from '../../manager-services.js';
import { consoleAndOpen, route, type ManagerRoute } from '../manager-route.js';

/** The id of the tenant's cluster of that name, created when new. */
export async function clusterIdByName(db: ManagerDb, tenantId: string, name: string, table: 'scheduler_clusters' | 'seed_peer_clusters'): Promise<string> {
  const find = () => db.selectFrom(table).select('id').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
  const found = await find();
  if (found) return found.id;
  const now = Date.now();
  const base = { id: randomUUID(), tenant_id: tenantId, name, created_at: now, updated_at: now };
  try {
    if (table === 'scheduler_clusters') {
      await withNextNumber(db, 'scheduler_clusters', (number) => db.insertInto('scheduler_clusters').values({
        ...base, scopes: '{}', config: '{}', client_config: '{}', is_default: 0, seed_peer_cluster_id: null, number,
      }).execute());
    } else {
      await db.insertInto('seed_peer_clusters').values({ ...base, config: '{}' }).execute();
    }
  } catch {
    /* created concurrently */
  }
  return (await find())!.id;
}

/** Registers (or refreshes) a seed peer in the seed-peer cluster of that name; its id and the cluster's. */
export async function upsertSeedPeer(db: ManagerDb, tenantId: string, body: z.infer<typeof RegisterSeedPeerSchema>): Promise<{ id: string; cluster_id: string }> {
  const clusterId = await clusterIdByName(db, tenantId, body.cluster, 'seed_peer_clusters');
  const now = Date.now();
  const existing = await db.selectFrom('seed_peers').select('id')
    .where('cluster_id', '=', clusterId).where('hostname', '=', body.hostname).where('ip', '=', body.ip).executeTakeFirst();
  const id = existing?.id ?? randomUUID();
  const values = { rpc_port: body.rpc_port, upload_port: body.upload_port, idc: body.idc, location: body.location, last_keepalive_at: now, offline_at: null };
  if (existing) await db.updateTable('seed_peers').set(values).where('id', '=', id).execute();
  else await db.insertInto('seed_peers').values({ id, tenant_id: tenantId, cluster_id: clusterId, hostname: body.hostname, ip: body.ip, created_at: now, ...values }).execute();
  return { id, cluster_id: clusterId };
}

/**
 * Registration and keepalive of schedulers and seed peers (inactive after `keepaliveTtl`), and
 * the ranked scheduler list a peer asks for.
 */
export function discoveryRoutes(s: ManagerServices): ManagerRoute[] {
  const ttl = s.config.keepaliveTtl;
  const state = (at: number, now: number) => (now - at <= ttl ? 'active' : 'inactive');
  const clusterConfig = async (id: string) => {
    const c = await s.db.selectFrom('scheduler_clusters').select(['config', 'client_config']).where('id', '=', id).executeTakeFirstOrThrow();
    return { config: JSON.parse(c.config) as unknown, client_config: JSON.parse(c.client_config) as unknown };
  };
  return [
    route({
      method: 'post', path: '/oapi/v1/schedulers', summary: 'Register a scheduler (cluster created when new)', auth: 'pat', scope: 'cluster',
      body: RegisterSchedulerSchema,
      async handle({ principal, body }) {
        const clusterId = await clusterIdByName(s.db, principal.tenantId, body.cluster, 'scheduler_clusters');
        const now = Date.now();
        const existing = await s.db.selectFrom('schedulers').select('id')
          .where('cluster_id', '=', clusterId).where('hostname', '=', body.hostname).where('ip', '=', body.ip).executeTakeFirst();
        const id = existing?.id ?? randomUUID();
        const values = { port: body.port, idc: body.idc, location: body.location, last_keepalive_at: now, offline_at: null };
        if (existing) await s.db.updateTable('schedulers').set(values).where('id', '=', id).execute();
        else {
          await s.db.insertInto('schedulers').values({
            id, tenant_id: principal.tenantId, cluster_id: clusterId, hostname: body.hostname, ip: body.ip, created_at: now, ...values,
          }).execute();
        }
        return { id, cluster_id: clusterId, keepalive_ttl_ms: ttl, ...(await clusterConfig(clusterId)) };
      },
    }),
    route({
      method: 'post', path: '/oapi/v1/schedulers/:id/keepalive', audit: 'failures', summary: 'Scheduler keepalive; returns the cluster\'s dynamic config',
      auth: 'pat', scope: 'cluster', resource: 'scheduler',
      async handle({ params }) {
        await s.db.updateTable('schedulers').set({ last_keepalive_at: Date.now(), offline_at: null }).where('id', '=', params.id).execute();
        const row = await s.db.selectFrom('schedulers').select('cluster_id').where('id', '=', params.id).executeTakeFirstOrThrow();
        return { id: params.id, cluster_id: row.cluster_id, ...(await clusterConfig(row.cluster_id)) };
      },
    }),
    route({
      method: 'post', path: '/oapi/v1/seed-peers', summary: 'Register a seed peer (seed-peer cluster created when new)', auth: 'pat',
      scope: 'cluster', body: RegisterSeedPeerSchema,
      async handle({ principal, body }) {
        return { ...await upsertSeedPeer(s.db, principal.tenantId, body), keepalive_ttl_ms: ttl };
      },
    }),
    route({
      method: 'post', path: '/oapi/v1/seed-peers/:id/keepalive', audit: 'failures', summary: 'Seed peer keepalive', auth: 'pat', scope: 'cluster', resource: 'seed-peer',
      async handle({ params }) {
        await s.db.updateTable('seed_peers').set({ last_keepalive_at: Date.now(), offline_at: null }).where('id', '=', params.id).execute();
        return { id: params.id };
      },
    }),
    ...consoleAndOpen('/api/v1/schedulers', '/oapi/v1/schedulers', 'cluster', {
      method: 'get', summary: 'List schedulers of the tenant with their state',
      async handle({ principal }) {
        const now = Date.now();
        const rows = await s.db.selectFrom('schedulers').selectAll().where('tenant_id', '=', principal.tenantId).orderBy('hostname').execute();
        return rows.map((r) => ({
          id: r.id, cluster_id: r.cluster_id, hostname: r.hostname, ip: r.ip, port: r.port, idc: r.idc, location: r.location,
          state: state(r.last_keepalive_at, now), last_keepalive_at: new Date(r.last_keepalive_at).toISOString(),
        }));
      },
    }),
    ...consoleAndOpen('/api/v1/seed-peers', '/oapi/v1/seed-peers', 'cluster', {
      method: 'get', summary: 'List seed peers of the tenant with their state',
      async handle({ principal }) {
        const now = Date.now();
        const rows = await s.db.selectFrom('seed_peers').selectAll().where('tenant_id', '=', principal.tenantId).orderBy('hostname').execute();
        return rows.map((r) => ({
          id: r.id, cluster_id: r.cluster_id, hostname: r.hostname, ip: r.ip, rpc_port: r.rpc_port, upload_port: r.upload_port,
          idc: r.idc, location: r.location, state: state(r.last_keepalive_at, now), last_keepalive_at: new Date(r.last_keepalive_at).toISOString(),
        }));
      },
    }),
    route({
      method: 'get', path: '/oapi/v1/peers/schedulers', audit: 'failures', summary: 'Active schedulers for a peer, clusters ranked by scope match',
      auth: 'pat', scope: 'cluster', query: PeerQuerySchema,
      async handle({ principal, query }) {
        const now = Date.now();
        const clusters = await s.db.selectFrom('scheduler_clusters').selectAll().where('tenant_id', '=', principal.tenantId).execute();
        const active = await s.db.selectFrom('schedulers').selectAll()
          .where('tenant_id', '=', principal.tenantId).where('last_keepalive_at', '>=', now - ttl).orderBy('hostname').execute();
        const withSchedulers = clusters.map((c) => ({
          id: c.id, name: c.name, isDefault: c.is_default === 1, scopes: JSON.parse(c.scopes) as ClusterScopes,
          clientConfig: JSON.parse(c.client_config) as unknown,
          schedulers: active.filter((a) => a.cluster_id === c.id).map((a) => ({ id: a.id, hostname: a.hostname, ip: a.ip, port: a.port, address: `${a.ip}:${a.port}` })),
        })).filter((c) => c.schedulers.length > 0);
        const ranked = rankClusters(query, withSchedulers);
        return {
          schedulers: ranked[0]?.schedulers ?? [],
          client_config: ranked[0]?.clientConfig ?? {},
          clusters: ranked.map((c) => ({ id: c.id, name: c.name, score: c.score, schedulers: c.schedulers })),
        };
      },
    }),
  ];
}
