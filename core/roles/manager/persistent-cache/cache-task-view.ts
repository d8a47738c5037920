import type { ReportedCacheTask } from './cache-task-schemas.js';

/** A host holding a copy, in the shape of Dragonfly's manager (`PersistentCachePeer`). */
export interface CachePeerView {
  /** The holding host's id (a host holds one copy of a task). */
  id: string;
  persistent: boolean;
  state: 'succeeded';
  created_at: string;
  updated_at: string;
  host: { id: string; type: 'normal' | 'super'; hostname: string; ip: string; port: number; download_port: number };
  /** The scheduler cluster whose scheduler reported the copy. */
  scheduler_cluster_id: string;
}

/**
 * A persistent-cache task as the manager's API shows it: Dragonfly's field names
 * (`GetPersistentCacheResponse`: `ttl` in nanoseconds, as Go marshals a duration), with d7y's
 * name, digest, replica counts and expiry beside them.
 */
export interface CacheTaskView {
  task_id: string;
  name: string;
  tag: string;
  application: string;
  piece_length: number;
  content_length: number;
  total_piece_count: number;
  digest: string;
  /** `succeeded`, `pending` (an import under way), or `deleting` (a delete was asked and is not done yet). */
  state: string;
  persistent_replica_count: number;
  current_persistent_replica_count: number;
  current_replica_count: number;
  ttl: number;
  created_at: string;
  updated_at: string;
  expires_at: string;
  scheduler_cluster_ids: string[];
  persistent_cache_peers: CachePeerView[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * One view of a task from the rows of the schedulers that report it: the facts of the most
 * recently updated report, the holders of all of them (one per host).
 */
export function cacheTaskView(rows: { cluster_id: string; task: ReportedCacheTask }[], deleting: boolean): CacheTaskView {
  const sorted = [...rows].sort((a, b) => b.task.updated_at - a.task.updated_at);
  const t = sorted[0]!.task;
  const peers = new Map<string, CachePeerView>();
  for (const { cluster_id, task } of sorted) {
    for (const p of task.peers) {
      const was = peers.get(p.host_id);
      if (was && (was.persistent || !p.persistent)) continue;
      peers.set(p.host_id, {
        id: p.host_id, persistent: p.persistent, state: 'succeeded', created_at: iso(p.since), updated_at: iso(task.updated_at),
        host: { id: p.host_id, type: p.type, hostname: p.hostname, ip: p.ip, port: p.port, download_port: p.download_port },
        scheduler_cluster_id: cluster_id,
      });
    }
  }
  const list = [...peers.values()].sort((a, b) => (a.host.hostname < b.host.hostname ? -1 : a.host.hostname > b.host.hostname ? 1 : 0));
  return {
    task_id: t.id, name: t.name, tag: t.tag, application: t.application, piece_length: t.piece_length, content_length: t.content_length,
    total_piece_count: t.piece_count, digest: t.digest, state: deleting ? 'deleting' : t.state,
    persistent_replica_count: t.persistent_replica_count,
    current_persistent_replica_count: list.filter((p) => p.persistent).length,
    current_replica_count: list.filter((p) => !p.persistent).length,
    ttl: t.ttl_ms * 1_000_000, created_at: iso(t.created_at), updated_at: iso(t.updated_at), expires_at: iso(t.created_at + t.ttl_ms),
    scheduler_cluster_ids: [...new Set(sorted.map((r) => r.cluster_id))].sort(),
    persistent_cache_peers: list,
  };
}
