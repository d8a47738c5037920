/** Answers of the manager's REST API as clients see them (no runtime code: the web console imports these too). */

export interface PeerResultView {
  host_id: string; ip: string; hostname: string; url?: string; task_id?: string; state: 'succeeded' | 'failed';
  content_length?: number; piece_count?: number; error?: string;
}

export interface JobView {
  id: string;
  /** The job's integer alias (the id Dragonfly-shaped clients use). */
  number: number;
  type: 'preheat' | 'get_task' | 'delete_task';
  state: 'pending' | 'running' | 'succeeded' | 'failed';
  args: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  runs: { cluster_id: string; state: string; scheduler_id: string | null; error: string | null; results: PeerResultView[] }[];
  results: PeerResultView[];
  succeeded_peers: number;
  failed_peers: number;
}

/** A persistent-cache task as the manager shows it (Dragonfly's field names; `ttl` in nanoseconds). */
export interface ManagerCacheTaskView {
  task_id: string; name: string; tag: string; application: string; piece_length: number; content_length: number; total_piece_count: number;
  digest: string; state: string; persistent_replica_count: number; current_persistent_replica_count: number; current_replica_count: number;
  ttl: number; created_at: string; updated_at: string; expires_at: string; scheduler_cluster_ids: string[];
  persistent_cache_peers: {
    id: string; persistent: boolean; state: string; created_at: string; updated_at: string; scheduler_cluster_id: string;
    host: { id: string; type: string; hostname: string; ip: string; port: number; download_port: number };
  }[];
}

/** The answer to a delete: done (every reporting scheduler confirmed), or still going on (202). */
export interface ManagerCacheDeletion {
  task_id: string;
  state: 'deleted' | 'deleting';
  hosts: { id: string; hostname: string; ip: string; persistent: boolean }[];
  message?: string;
}
