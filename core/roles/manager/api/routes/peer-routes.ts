import { randomUUID } from 'node:crypto';
import type { PeerTable } from '../../database/schema.js';
import type { ManagerServices } from '../../manager-services.js';
import { PeerKeepaliveSchema, PeerListQuerySchema, peerView, RegisterPeerSchema, statusColumns } from '../../peers/peer-schemas.js';
import { consoleAndOpen, route, type ManagerRoute } from '../manager-route.js';
import { upsertSeedPeer } from './discovery-routes.js';

/**
 * Registration and keepalive of every peer and seed peer (scope `cluster`, the token of the
 * node's manager link): each reports its ports, version, disk and bandwidth; a peer silent for
 * `keepaliveTtl` is listed inactive (and announced `peer.offline` once). A seed peer also
 * registers in its seed-peer cluster, so `/seed-peers` lists it too.
 */
export function peerRoutes(s: ManagerServices): ManagerRoute[] {
  const ttl = s.config.keepaliveTtl;
  return [
    route({
      method: 'post', path: '/oapi/v1/peers', summary: 'Register a peer or seed peer with its ports, version, disk and bandwidth', auth: 'pat', scope: 'cluster',
      body: RegisterPeerSchema,
      async handle({ principal, body }) {
        const now = Date.now();
        const seed = body.type === 'seed'
          ? await upsertSeedPeer(s.db, principal.tenantId, {
            cluster: body.cluster, hostname: body.hostname, ip: body.ip, rpc_port: body.ports.rpc, upload_port: body.ports.upload, idc: body.idc, location: body.location,
          })
          : undefined;
        const existing = await s.db.selectFrom('peers').select('id').where('tenant_id', '=', principal.tenantId).where('host_id', '=', body.host_id).executeTakeFirst();
        const id = existing?.id ?? randomUUID();
        const values = {
          cluster_id: seed?.cluster_id ?? null, type: body.type, hostname: body.hostname, ip: body.ip, ports: JSON.stringify(body.ports),
          idc: body.idc, location: body.location, version: body.version, ...statusColumns(body.status), last_keepalive_at: now, offline_at: null,
        } satisfies Partial<PeerTable>;
        if (existing) await s.db.updateTable('peers').set(values).where('id', '=', id).execute();
        else await s.db.insertInto('peers').values({ id, tenant_id: principal.tenantId, host_id: body.host_id, created_at: now, ...values }).execute();
        return { id, cluster_id: seed?.cluster_id ?? null, keepalive_ttl_ms: ttl };
      },
    }),
    route({
      method: 'post', path: '/oapi/v1/peers/:id/keepalive', audit: 'failures', summary: 'Peer keepalive with its current disk, bandwidth and state',
      auth: 'pat', scope: 'cluster', resource: 'peer', body: PeerKeepaliveSchema,
      async handle({ params, body }) {
        const now = Date.now();
        await s.db.updateTable('peers').set({ ...statusColumns(body.status), last_keepalive_at: now, offline_at: null }).where('id', '=', params.id).execute();
        const p = await s.db.selectFrom('peers').select(['cluster_id', 'hostname', 'ip']).where('id', '=', params.id).executeTakeFirstOrThrow();
        if (p.cluster_id) {
          await s.db.updateTable('seed_peers').set({ last_keepalive_at: now, offline_at: null })
            .where('cluster_id', '=', p.cluster_id).where('hostname', '=', p.hostname).where('ip', '=', p.ip).execute();
        }
        return { id: params.id, keepalive_ttl_ms: ttl };
      },
    }),
    ...consoleAndOpen('/api/v1/peers', '/oapi/v1/peers', 'cluster', {
      method: 'get', summary: 'List the tenant\'s peers and seed peers with state, version, ports, disk, bandwidth and last keepalive', query: PeerListQuerySchema,
      async handle({ principal, query }) {
        let q = s.db.selectFrom('peers').selectAll().where('tenant_id', '=', principal.tenantId);
        if (query.type) q = q.where('type', '=', query.type);
        const now = Date.now();
        return (await q.orderBy('type', 'desc').orderBy('hostname').execute()).map((r) => peerView(r, ttl, now));
      },
    }),
    ...consoleAndOpen('/api/v1/peers/:id', '/oapi/v1/peers/:id', 'cluster', {
      method: 'get', summary: 'Get a peer', resource: 'peer',
      async handle({ params }) {
        return peerView(await s.db.selectFrom('peers').selectAll().where('id', '=', params.id).executeTakeFirstOrThrow(), ttl);
      },
    }),
  ];
}
