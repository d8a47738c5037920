import { isIP } from 'node:net';
import { z } from 'zod';
import type { PeerTable } from '../database/schema.js';

const port = z.number().int().min(0).max(65535);
const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** What a peer reports at every keepalive: its state, the disk of its data dir, bandwidth used (bytes/s over the last interval) and limits (0 = none). */
export const PeerStatusSchema = z.strictObject({
  state: z.enum(['running', 'draining']).default('running'),
  disk: z.strictObject({ total: bytes, used: bytes, free: bytes }),
  bandwidth: z.strictObject({ upload_bps: bytes, download_bps: bytes, upload_limit: bytes, download_limit: bytes }),
});
export type PeerStatus = z.infer<typeof PeerStatusSchema>;

/** A peer or seed peer registering with the manager (a seed peer also joins the seed-peer cluster `cluster`, created when new). */
export const RegisterPeerSchema = z.strictObject({
  host_id: z.string().min(1).max(512),
  type: z.enum(['normal', 'seed']),
  cluster: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, 'letters, digits, . _ - (at most 63)').default('default'),
  hostname: z.string().min(1).max(255),
  ip: z.string().refine((ip) => isIP(ip) > 0, 'expected an IP address'),
  idc: z.string().max(255).default(''),
  location: z.string().max(255).default(''),
  version: z.string().min(1).max(64),
  ports: z.strictObject({ rpc: port, upload: port, piece_http: port.optional(), proxy: port.optional(), metrics: port.optional() }),
  status: PeerStatusSchema,
});
export type RegisterPeer = z.infer<typeof RegisterPeerSchema>;

export const PeerKeepaliveSchema = z.strictObject({ status: PeerStatusSchema });

export const PeerListQuerySchema = z.strictObject({
  type: z.enum(['normal', 'seed']).optional(),
});

/** The columns a status report sets. */
export function statusColumns(s: PeerStatus): Pick<PeerTable, 'state' | 'disk_total' | 'disk_used' | 'disk_free' | 'upload_bps' | 'download_bps' | 'upload_limit' | 'download_limit'> {
  return {
    state: s.state, disk_total: s.disk.total, disk_used: s.disk.used, disk_free: s.disk.free,
    upload_bps: s.bandwidth.upload_bps, download_bps: s.bandwidth.download_bps, upload_limit: s.bandwidth.upload_limit, download_limit: s.bandwidth.download_limit,
  };
}

/** A peer as the API lists it; `state` is `inactive` once its keepalives stopped for the keepalive TTL, else what it reported. */
export function peerView(r: PeerTable, ttl: number, now = Date.now()): Record<string, unknown> {
  return {
    id: r.id, host_id: r.host_id, type: r.type, cluster_id: r.cluster_id, hostname: r.hostname, ip: r.ip, ports: JSON.parse(r.ports) as unknown,
    idc: r.idc, location: r.location, version: r.version,
    state: now - r.last_keepalive_at <= ttl ? 'active' : 'inactive', reported_state: r.state,
    disk: { total: r.disk_total, used: r.disk_used, free: r.disk_free },
    bandwidth: { upload_bps: r.upload_bps, download_bps: r.download_bps, upload_limit: r.upload_limit, download_limit: r.download_limit },
    last_keepalive_at: new Date(r.last_keepalive_at).toISOString(), created_at: new Date(r.created_at).toISOString(),
  };
}
