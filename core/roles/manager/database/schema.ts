/**
 * The manager's tables as kysely sees them. Ids are text (UUIDs), times are milliseconds since
 * the epoch (bigint), booleans are 0/1 integers and structured values are JSON text, so one
 * query layer runs unchanged on SQLite and PostgreSQL.
 */
export interface TenantTable {
  id: string;
  name: string;
  created_at: number;
}

export interface UserTable {
  id: string;
  tenant_id: string;
  name: string;
  password_hash: string;
  role: 'root' | 'user';
  created_at: number;
}

export interface PersonalAccessTokenTable {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  token_hash: string;
  /** The first characters of the token, to recognise it in listings. */
  token_prefix: string;
  /** Comma-separated: `job`, `cluster`, `persistent_cache`. */
  scopes: string;
  state: 'active' | 'inactive';
  expires_at: number;
  created_at: number;
  last_used_at: number | null;
}

export interface SchedulerClusterTable {
  id: string;
  tenant_id: string;
  name: string;
  /** JSON ClusterScopes. */
  scopes: string;
  /** JSON dynamic config for schedulers (evaluator, experiment, limits). */
  config: string;
  /** JSON dynamic config for peers. */
  client_config: string;
  is_default: number;
  seed_peer_cluster_id: string | null;
  /** A stable integer alias of `id`, for clients of Dragonfly's open API (integer cluster ids). */
  number: number;
  created_at: number;
  updated_at: number;
}

export interface SeedPeerClusterTable {
  id: string;
  tenant_id: string;
  name: string;
  config: string;
  created_at: number;
  updated_at: number;
}

export interface SchedulerTable {
  id: string;
  tenant_id: string;
  cluster_id: string;
  hostname: string;
  ip: string;
  port: number;
  idc: string;
  location: string;
  last_keepalive_at: number;
  /** When it was announced offline (keepalive lapsed); null while it keeps alive. */
  offline_at?: number | null;
  created_at: number;
}

export interface SeedPeerTable {
  id: string;
  tenant_id: string;
  cluster_id: string;
  hostname: string;
  ip: string;
  rpc_port: number;
  upload_port: number;
  idc: string;
  location: string;
  last_keepalive_at: number;
  offline_at?: number | null;
  created_at: number;
}

/** A peer or seed peer as it last reported itself (registration and keepalives); bandwidth in bytes/s, 0 limit = none. */
export interface PeerTable {
  id: string;
  tenant_id: string;
  /** The seed-peer cluster of a seed peer; null for a peer. */
  cluster_id: string | null;
  /** The peer's own host id (`ip-hostname`, `-seed` for seed peers). */
  host_id: string;
  type: 'normal' | 'seed';
  hostname: string;
  ip: string;
  /** JSON `{ rpc, upload, piece_http, proxy?, metrics? }`. */
  ports: string;
  idc: string;
  location: string;
  version: string;
  /** What the peer says of itself: `running` or `draining`. */
  state: string;
  disk_total: number;
  disk_used: number;
  disk_free: number;
  upload_bps: number;
  download_bps: number;
  upload_limit: number;
  download_limit: number;
  last_keepalive_at: number;
  offline_at?: number | null;
  created_at: number;
}

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed';

export interface JobTable {
  id: string;
  tenant_id: string;
  type: 'preheat' | 'get_task' | 'delete_task';
  /** JSON job arguments, secrets removed. */
  args: string;
  created_by: string;
  timeout_ms: number;
  /** A stable integer alias of `id`, for clients of Dragonfly's open API (integer job ids). */
  number: number;
  /** When its end was announced (job.succeeded / job.failed); null while it runs. */
  notified_at?: number | null;
  created_at: number;
  updated_at: number;
}

/** One job's share in one scheduler cluster, picked up by one of its schedulers. */
export interface JobRunTable {
  job_id: string;
  cluster_id: string;
  tenant_id: string;
  state: JobState;
  scheduler_id: string | null;
  /** JSON PeerResult[]. */
  result: string;
  error: string | null;
  deadline_at: number;
  created_at: number;
  updated_at: number;
}

export interface AuditTable {
  id: string;
  tenant_id: string | null;
  actor_type: 'unknown' | 'user' | 'pat';
  actor_name: string;
  method: string;
  path: string;
  status: number;
  success: number;
  /** JSON: route pattern, client address, error code. Never a body, header or token. */
  detail: string;
  created_at: number;
}

/** A console session: its token names the row, so signing out or a password change ends it. */
export interface SessionTable {
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface SettingTable {
  key: string;
  value: string;
}

/**
 * One ended download as a scheduler reported it: the dashboard's and the experiments' source.
 * `url` is kept without its query (signatures stay out of the database).
 */
export interface DownloadTable {
  id: string;
  tenant_id: string;
  scheduler_id: string;
  task_id: string;
  url: string;
  host_id: string;
  hostname: string;
  ip: string;
  /** 1 for a seed peer's download. */
  seed: number;
  succeeded: number;
  duration_ms: number;
  content_length: number;
  peer_bytes: number;
  source_bytes: number;
  back_to_source: number;
  /** Why it went to the origin ('' when it did not, or when the scheduler did not say). */
  back_to_source_reason?: string;
  piece_failures: number;
  reschedules: number;
  /** The A/B experiment and arm the download ran under; '' when none. */
  experiment_id: string;
  arm: string;
  arm_index: number;
  evaluator: string;
  bucket: string;
  created_at: number;
}

/** The data-plane credential of a tenant's schedulers and peers (issued to tokens with scope `cluster`; the seed secret with `seed`). */
export interface TenantCredentialTable {
  tenant_id: string;
  cluster_secret: string;
  seed_secret: string;
  created_at: number;
}

/**
 * One persistent-cache task as one scheduler last reported it (its facts and holders); a task on
 * several schedulers has one row per scheduler. Replaced whole at each report of that scheduler.
 */
export interface PersistentCacheTaskTable {
  scheduler_id: string;
  task_id: string;
  tenant_id: string;
  cluster_id: string;
  /** JSON ReportedCacheTask. */
  task: string;
  reported_at: number;
}

/** A delete asked through the API: schedulers reporting the task are told to delete it until `expires_at`. */
export interface PersistentCacheDeletionTable {
  tenant_id: string;
  task_id: string;
  requested_by: string;
  created_at: number;
  /** The task's own expiry (its TTL end), after which no copy can remain. */
  expires_at: number;
}

/** A webhook subscription: `events` is a JSON array of event names; `secret` signs its payloads. */
export interface WebhookTable {
  id: string;
  tenant_id: string;
  name: string;
  url: string;
  events: string;
  secret: string;
  created_by: string;
  created_at: number;
}

export type WebhookDeliveryState = 'pending' | 'delivered' | 'failed';

/** One event sent (or to send) to one webhook; `seq` orders a webhook's deliveries; `attempts` is a JSON array. */
export interface WebhookDeliveryTable {
  id: string;
  webhook_id: string;
  tenant_id: string;
  seq: number;
  event: string;
  payload: string;
  state: WebhookDeliveryState;
  attempts: string;
  next_at: number;
  created_at: number;
  updated_at: number;
}

export type CommandState = 'pending' | 'sent' | 'succeeded' | 'failed';

/** A command pushed to one scheduler or one peer (`target`), with its acknowledged result (JSON). */
export interface CommandTable {
  id: string;
  tenant_id: string;
  /** The scheduler's id, or the peer's when `target` is `peer`. */
  scheduler_id: string;
  target?: 'scheduler' | 'peer';
  type: string;
  args: string;
  state: CommandState;
  result: string | null;
  error: string | null;
  created_by: string;
  deadline_at: number;
  created_at: number;
  updated_at: number;
}

/** A sync job: on its cron `schedule`, preheats what changed in `source` since its last run. `args`: JSON SyncArgs. */
export interface SyncTable {
  id: string;
  tenant_id: string;
  name: string;
  source: string;
  schedule: string;
  args: string;
  state: 'active' | 'paused';
  next_run_at: number;
  created_by: string;
  created_at: number;
  updated_at: number;
}

/** What a sync job last warmed of one object: `fingerprint` is its size, etag, digest and mtime. */
export interface SyncEntryTable {
  sync_id: string;
  path: string;
  fingerprint: string;
}

/** One run of a sync job; `changes` (JSON) are the entries it warms, recorded once its preheat succeeds. */
export interface SyncRunTable {
  id: string;
  sync_id: string;
  tenant_id: string;
  state: 'running' | 'succeeded' | 'failed';
  job_id: string | null;
  /** The copy command a seed peer ran for it (copy mode). */
  command_id?: string | null;
  report: string;
  changes: string;
  error: string | null;
  started_at: number;
  finished_at: number | null;
}

export interface ManagerTables {
  tenants: TenantTable;
  users: UserTable;
  personal_access_tokens: PersonalAccessTokenTable;
  scheduler_clusters: SchedulerClusterTable;
  seed_peer_clusters: SeedPeerClusterTable;
  schedulers: SchedulerTable;
  seed_peers: SeedPeerTable;
  peers: PeerTable;
  jobs: JobTable;
  job_runs: JobRunTable;
  audits: AuditTable;
  settings: SettingTable;
  sessions: SessionTable;
  downloads: DownloadTable;
  tenant_credentials: TenantCredentialTable;
  persistent_cache_tasks: PersistentCacheTaskTable;
  persistent_cache_deletions: PersistentCacheDeletionTable;
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
  commands: CommandTable;
  syncs: SyncTable;
  sync_entries: SyncEntryTable;
  sync_runs: SyncRunTable;
}
