import type { Kysely, Migration, MigrationProvider } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;

const initial: Migration = {
  async up(db: Db): Promise<void> {
    await db.schema.createTable('tenants')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createTable('users')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull().references('tenants.id'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('password_hash', 'varchar(512)', (c) => c.notNull())
      .addColumn('role', 'varchar(16)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createTable('personal_access_tokens')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull().references('tenants.id'))
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('token_hash', 'varchar(128)', (c) => c.notNull().unique())
      .addColumn('token_prefix', 'varchar(32)', (c) => c.notNull())
      .addColumn('scopes', 'varchar(64)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createTable('seed_peer_clusters')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull().references('tenants.id'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('seed_peer_clusters_tenant_name', ['tenant_id', 'name'])
      .execute();
    await db.schema.createTable('scheduler_clusters')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull().references('tenants.id'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('client_config', 'text', (c) => c.notNull())
      .addColumn('is_default', 'integer', (c) => c.notNull())
      .addColumn('seed_peer_cluster_id', 'varchar(64)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('scheduler_clusters_tenant_name', ['tenant_id', 'name'])
      .execute();
    for (const table of ['schedulers', 'seed_peers'] as const) {
      let b = db.schema.createTable(table)
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('cluster_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('hostname', 'varchar(255)', (c) => c.notNull())
        .addColumn('ip', 'varchar(64)', (c) => c.notNull());
      b = table === 'schedulers'
        ? b.addColumn('port', 'integer', (c) => c.notNull())
        : b.addColumn('rpc_port', 'integer', (c) => c.notNull()).addColumn('upload_port', 'integer', (c) => c.notNull());
      await b.addColumn('idc', 'varchar(255)', (c) => c.notNull())
        .addColumn('location', 'varchar(255)', (c) => c.notNull())
        .addColumn('last_keepalive_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint(`${table}_cluster_host`, ['cluster_id', 'hostname', 'ip'])
        .execute();
    }
    await db.schema.createTable('jobs')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('type', 'varchar(32)', (c) => c.notNull())
      .addColumn('args', 'text', (c) => c.notNull())
      .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
      .addColumn('timeout_ms', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('jobs_tenant_created').on('jobs').columns(['tenant_id', 'created_at']).execute();
    await db.schema.createTable('job_runs')
      .addColumn('job_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('cluster_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('scheduler_id', 'varchar(64)')
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('deadline_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('job_runs_pk', ['job_id', 'cluster_id'])
      .execute();
    await db.schema.createIndex('job_runs_cluster_state').on('job_runs').columns(['cluster_id', 'state']).execute();
    await db.schema.createTable('audits')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)')
      .addColumn('actor_type', 'varchar(16)', (c) => c.notNull())
      .addColumn('actor_name', 'varchar(255)', (c) => c.notNull())
      .addColumn('method', 'varchar(16)', (c) => c.notNull())
      .addColumn('path', 'varchar(2048)', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('success', 'integer', (c) => c.notNull())
      .addColumn('detail', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audits_tenant_created').on('audits').columns(['tenant_id', 'created_at']).execute();
    await db.schema.createTable('settings')
      .addColumn('key', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Db): Promise<void> {
    for (const t of ['settings', 'audits', 'job_runs', 'jobs', 'seed_peers', 'schedulers', 'scheduler_clusters',
      'seed_peer_clusters', 'personal_access_tokens', 'users', 'tenants']) {
      await db.schema.dropTable(t).execute();
    }
  },
};

/**
 * Console sessions become rows (so a sign-out or a password change ends them), and jobs and
 * scheduler clusters get a stable integer alias, numbered in creation order.
 */
const sessionsAndNumbers: Migration = {
  async up(db: Db): Promise<void> {
    await db.schema.createTable('sessions')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
    for (const table of ['scheduler_clusters', 'jobs']) {
      await db.schema.alterTable(table).addColumn('number', 'bigint').execute();
      const rows = await db.selectFrom(table).select('id').orderBy('created_at').orderBy('id').execute() as { id: string }[];
      for (const [i, row] of rows.entries()) await db.updateTable(table).set({ number: i + 1 }).where('id', '=', row.id).execute();
      await db.schema.createIndex(`${table}_number`).on(table).column('number').unique().execute();
    }
  },
  async down(db: Db): Promise<void> {
    for (const table of ['scheduler_clusters', 'jobs']) {
      await db.schema.dropIndex(`${table}_number`).execute();
      await db.schema.alterTable(table).dropColumn('number').execute();
    }
    await db.schema.dropTable('sessions').execute();
  },
};

/** Ended downloads reported by schedulers (dashboard, A/B experiments). */
const downloads: Migration = {
  async up(db: Db): Promise<void> {
    let t = db.schema.createTable('downloads')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('scheduler_id', 'varchar(64)', (c) => c.notNull());
    for (const c of ['task_id', 'host_id', 'hostname', 'ip', 'experiment_id', 'arm', 'evaluator']) t = t.addColumn(c, 'varchar(255)', (col) => col.notNull());
    t = t.addColumn('url', 'varchar(4096)', (c) => c.notNull()).addColumn('bucket', 'varchar(512)', (c) => c.notNull());
    for (const c of ['seed', 'succeeded', 'back_to_source', 'piece_failures', 'reschedules', 'arm_index']) t = t.addColumn(c, 'integer', (col) => col.notNull());
    for (const c of ['duration_ms', 'content_length', 'peer_bytes', 'source_bytes', 'created_at']) t = t.addColumn(c, 'bigint', (col) => col.notNull());
    await t.execute();
    await db.schema.createIndex('downloads_tenant_created').on('downloads').columns(['tenant_id', 'created_at']).execute();
    await db.schema.createIndex('downloads_experiment').on('downloads').columns(['tenant_id', 'experiment_id']).execute();
  },
  async down(db: Db): Promise<void> {
    await db.schema.dropTable('downloads').execute();
  },
};

/** The data-plane credential the manager issues per tenant. */
const tenantCredentials: Migration = {
  async up(db: Db): Promise<void> {
    await db.schema.createTable('tenant_credentials')
      .addColumn('tenant_id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('cluster_secret', 'varchar(128)', (c) => c.notNull())
      .addColumn('seed_secret', 'varchar(128)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Db): Promise<void> {
    await db.schema.dropTable('tenant_credentials').execute();
  },
};

/** What schedulers report of their persistent-cache tasks, and the deletes asked through the API. */
const persistentCache: Migration = {
  async up(db: Db): Promise<void> {
    await db.schema.createTable('persistent_cache_tasks')
      .addColumn('scheduler_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('task_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('cluster_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('task', 'text', (c) => c.notNull())
      .addColumn('reported_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('persistent_cache_tasks_pk', ['scheduler_id', 'task_id'])
      .execute();
    await db.schema.createIndex('persistent_cache_tasks_tenant_task').on('persistent_cache_tasks').columns(['tenant_id', 'task_id']).execute();
    await db.schema.createTable('persistent_cache_deletions')
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('task_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('requested_by', 'varchar(255)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('persistent_cache_deletions_pk', ['tenant_id', 'task_id'])
      .execute();
  },
  async down(db: Db): Promise<void> {
    await db.schema.dropTable('persistent_cache_deletions').execute();
    await db.schema.dropTable('persistent_cache_tasks').execute();
  },
};

/**
 * Webhook subscriptions and their delivery log; commands pushed to schedulers; sync jobs (what
 * each last saw of its source, and its runs); and the marks that
 * make each job end and each node going offline notify once.
 */
const webhooksAndCommands: Migration = {
  async up(db: Db): Promise<void> {
    await db.schema.createTable('webhooks')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('url', 'varchar(2048)', (c) => c.notNull())
      .addColumn('events', 'text', (c) => c.notNull())
      .addColumn('secret', 'varchar(128)', (c) => c.notNull())
      .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webhooks_tenant').on('webhooks').column('tenant_id').execute();
    await db.schema.createTable('webhook_deliveries')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('webhook_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('event', 'varchar(64)', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempts', 'text', (c) => c.notNull())
      .addColumn('next_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webhook_deliveries_hook_seq').on('webhook_deliveries').columns(['webhook_id', 'seq']).execute();
    await db.schema.createIndex('webhook_deliveries_state_next').on('webhook_deliveries').columns(['state', 'next_at']).execute();
    await db.schema.createTable('commands')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('scheduler_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('type', 'varchar(32)', (c) => c.notNull())
      .addColumn('args', 'text', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('result', 'text')
      .addColumn('error', 'text')
      .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
      .addColumn('deadline_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('commands_scheduler_state').on('commands').columns(['scheduler_id', 'state']).execute();
    await db.schema.createTable('syncs')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('source', 'varchar(4096)', (c) => c.notNull())
      .addColumn('schedule', 'varchar(255)', (c) => c.notNull())
      .addColumn('args', 'text', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('next_run_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('syncs_state_next').on('syncs').columns(['state', 'next_run_at']).execute();
    await db.schema.createTable('sync_entries')
      .addColumn('sync_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('path', 'varchar(4096)', (c) => c.notNull())
      .addColumn('fingerprint', 'varchar(512)', (c) => c.notNull())
      .addPrimaryKeyConstraint('sync_entries_pk', ['sync_id', 'path'])
      .execute();
    await db.schema.createTable('sync_runs')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('sync_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('job_id', 'varchar(64)')
      .addColumn('report', 'text', (c) => c.notNull())
      .addColumn('changes', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .execute();
    await db.schema.createIndex('sync_runs_sync').on('sync_runs').columns(['sync_id', 'started_at']).execute();
    await db.schema.createIndex('sync_runs_job').on('sync_runs').column('job_id').execute();
    await db.schema.alterTable('jobs').addColumn('notified_at', 'bigint').execute();
    for (const t of ['schedulers', 'seed_peers']) await db.schema.alterTable(t).addColumn('offline_at', 'bigint').execute();
  },
  async down(db: Db): Promise<void> {
    for (const t of ['schedulers', 'seed_peers']) await db.schema.alterTable(t).dropColumn('offline_at').execute();
    await db.schema.alterTable('jobs').dropColumn('notified_at').execute();
    for (const t of ['sync_runs', 'sync_entries', 'syncs', 'commands', 'webhook_deliveries', 'webhooks']) await db.schema.dropTable(t).execute();
  },
};

/**
 * Every peer and seed peer with what it last reported (ports, version, disk, bandwidth, state);
 * commands addressed to a peer instead of a scheduler (`target`); a sync run carried out by a
 * seed peer names its command; a download says why it went to the origin.
 */
const peers: Migration = {
  async up(db: Db): Promise<void> {
    let t = db.schema.createTable('peers')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('cluster_id', 'varchar(64)')
      .addColumn('host_id', 'varchar(512)', (c) => c.notNull())
      .addColumn('type', 'varchar(16)', (c) => c.notNull())
      .addColumn('hostname', 'varchar(255)', (c) => c.notNull())
      .addColumn('ip', 'varchar(64)', (c) => c.notNull())
      .addColumn('ports', 'text', (c) => c.notNull());
    for (const c of ['idc', 'location', 'version', 'state']) t = t.addColumn(c, 'varchar(255)', (col) => col.notNull());
    for (const c of ['disk_total', 'disk_used', 'disk_free', 'upload_bps', 'download_bps', 'upload_limit', 'download_limit', 'last_keepalive_at', 'created_at']) {
      t = t.addColumn(c, 'bigint', (col) => col.notNull());
    }
    await t.addColumn('offline_at', 'bigint').addUniqueConstraint('peers_tenant_host', ['tenant_id', 'host_id']).execute();
    await db.schema.alterTable('commands').addColumn('target', 'varchar(16)', (c) => c.notNull().defaultTo('scheduler')).execute();
    await db.schema.alterTable('sync_runs').addColumn('command_id', 'varchar(64)').execute();
    await db.schema.alterTable('downloads').addColumn('back_to_source_reason', 'varchar(64)', (c) => c.notNull().defaultTo('')).execute();
  },
  async down(db: Db): Promise<void> {
    await db.schema.alterTable('downloads').dropColumn('back_to_source_reason').execute();
    await db.schema.alterTable('sync_runs').dropColumn('command_id').execute();
    await db.schema.alterTable('commands').dropColumn('target').execute();
    await db.schema.dropTable('peers').execute();
  },
};

/** The manager's migrations, in order, kept in code so a build carries them. */
export const managerMigrations: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return {
      '0001_initial': initial, '0002_sessions_and_numbers': sessionsAndNumbers, '0003_downloads': downloads,
      '0004_tenant_credentials': tenantCredentials, '0005_persistent_cache': persistentCache,
      '0006_webhooks_and_commands': webhooksAndCommands, '0007_peers': peers,
    };
  },
};
