import type { ManagerDb } from '../database/manager-database.js';
import { jobView } from '../jobs/job-view.js';
import type { SyncRunner } from '../syncs/sync-runner.js';
import type { WebhookDispatcher } from './webhook-dispatcher.js';

/**
 * Announces each of `jobIds` that has ended (every run succeeded or failed) as job.succeeded or
 * job.failed, once: the job's `notified_at` mark is taken first, so two managers or two schedulers
 * finishing together announce it once. A sync run whose preheat it was ends with it.
 */
export async function announceJobEnds(db: ManagerDb, webhooks: WebhookDispatcher, jobIds: readonly string[], syncs?: Pick<SyncRunner, 'finishRunOf'>, now = Date.now()): Promise<void> {
  for (const id of new Set(jobIds)) {
    const runs = await db.selectFrom('job_runs').selectAll().where('job_id', '=', id).execute();
    if (!runs.length || runs.some((r) => r.state === 'pending' || r.state === 'running')) continue;
    const took = await db.updateTable('jobs').set({ notified_at: now }).where('id', '=', id).where('notified_at', 'is', null).executeTakeFirst();
    if (Number(took.numUpdatedRows) !== 1) continue;
    const job = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const view = jobView(job, runs);
    const succeeded = runs.every((r) => r.state === 'succeeded');
    await webhooks.emit(job.tenant_id, succeeded ? 'job.succeeded' : 'job.failed', view, now);
    const results = runs.flatMap((r) => JSON.parse(r.result) as { state?: string }[]);
    await syncs?.finishRunOf(id, succeeded, results, runs.find((r) => r.error)?.error ?? null);
  }
}

/**
 * Announces schedulers (scheduler.offline), peers and seed peers (peer.offline) whose keepalive
 * lapsed, once per lapse. A seed peer that registered through the peer link is announced once,
 * as a peer (its seed-peer row is only marked).
 */
export async function announceOffline(db: ManagerDb, webhooks: WebhookDispatcher, keepaliveTtl: number, now = Date.now()): Promise<void> {
  for (const [table, event] of [['schedulers', 'scheduler.offline'], ['seed_peers', 'peer.offline']] as const) {
    const lapsed = await db.selectFrom(table).select(['id', 'tenant_id', 'cluster_id', 'hostname', 'ip', 'last_keepalive_at'])
      .where('last_keepalive_at', '<', now - keepaliveTtl).where('offline_at', 'is', null).limit(1000).execute();
    for (const n of lapsed) {
      const took = await db.updateTable(table).set({ offline_at: now }).where('id', '=', n.id).where('offline_at', 'is', null).executeTakeFirst();
      if (Number(took.numUpdatedRows) !== 1) continue;
      if (table === 'seed_peers' && await db.selectFrom('peers').select('id').where('cluster_id', '=', n.cluster_id)
        .where('hostname', '=', n.hostname).where('ip', '=', n.ip).executeTakeFirst()) continue;
      await webhooks.emit(n.tenant_id, event, {
        id: n.id, type: table === 'schedulers' ? 'scheduler' : 'seed_peer', cluster_id: n.cluster_id, hostname: n.hostname, ip: n.ip,
        last_keepalive_at: new Date(n.last_keepalive_at).toISOString(),
      }, now);
    }
  }
  const peers = await db.selectFrom('peers').select(['id', 'tenant_id', 'cluster_id', 'host_id', 'type', 'hostname', 'ip', 'version', 'last_keepalive_at'])
    .where('last_keepalive_at', '<', now - keepaliveTtl).where('offline_at', 'is', null).limit(1000).execute();
  for (const p of peers) {
    const took = await db.updateTable('peers').set({ offline_at: now }).where('id', '=', p.id).where('offline_at', 'is', null).executeTakeFirst();
    if (Number(took.numUpdatedRows) !== 1) continue;
    await webhooks.emit(p.tenant_id, 'peer.offline', {
      id: p.id, type: p.type === 'seed' ? 'seed_peer' : 'peer', host_id: p.host_id, cluster_id: p.cluster_id, hostname: p.hostname, ip: p.ip,
      version: p.version, last_keepalive_at: new Date(p.last_keepalive_at).toISOString(),
    }, now);
  }
}
