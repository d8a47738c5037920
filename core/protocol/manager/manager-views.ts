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
