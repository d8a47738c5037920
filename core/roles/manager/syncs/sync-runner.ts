import { randomUUID } from 'node:crypto';
import type { ManagerConfig } from '../../../config/manager-config.js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { SourceRouter } from '../../../registry/source-router.js';
import type { SourceEntry } from '../../../contracts/source-client.js';
import type { ManagerDb } from '../database/manager-database.js';
import type { CommandTable, SyncRunTable, SyncTable } from '../database/schema.js';
import type { CommandHub } from '../commands/command-hub.js';
import { issueCommands } from '../commands/command-store.js';
import { insertJob } from '../jobs/job-store.js';
import type { PreheatLimiter } from '../jobs/preheat-limiter.js';
import type { WebhookDispatcher } from '../webhooks/webhook-dispatcher.js';
import { nextRun, type SyncArgs } from './sync-schemas.js';

const TICK_MS = 500;
const LIST_TIMEOUT_MS = 5 * 60_000;
const UPSERT_BATCH = 500;

/** What a run warms: changed objects (path, fingerprint, url) and paths gone from the source. */
interface RunChanges {
  changed: { path: string; fingerprint: string; url: string }[];
  removed: string[];
}

function fingerprint(e: SourceEntry): string {
  return JSON.stringify([e.contentLength ?? null, e.etag ?? null, e.digest ?? null, e.lastModified ?? null]);
}

export function syncRunView(r: SyncRunTable): Record<string, unknown> {
  return {
    id: r.id, sync_id: r.sync_id, state: r.state, job_id: r.job_id, command_id: r.command_id ?? null, report: JSON.parse(r.report) as unknown, error: r.error,
    started_at: new Date(r.started_at).toISOString(), finished_at: r.finished_at === null ? null : new Date(r.finished_at).toISOString(),
  };
}

/**
 * Runs sync jobs on their cron schedules: lists the source, compares each object's size, etag,
 * digest and mtime with what the last successful run warmed, and preheats only what changed
 * (a preheat job run by the schedulers, under the preheat rate limit). A run ends with its preheat
 * (finishRunOf, called when a job ends): on success what it warmed is recorded, so a failed run's
 * objects are warmed again next time. Managers sharing a database run each due sync once: the run
 * is leased by moving `next_run_at`.
 */
export class SyncRunner {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly o: {
    db: ManagerDb; sources: SourceRouter; limiter: PreheatLimiter; webhooks: WebhookDispatcher; config: ManagerConfig; logger: Logger; commands: CommandHub;
  }) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      const due = await this.o.db.selectFrom('syncs').selectAll().where('state', '=', 'active').where('next_run_at', '<=', now).limit(20).execute();
      for (const sync of due) {
        const took = await this.o.db.updateTable('syncs').set({ next_run_at: nextRun(sync.schedule, now) })
          .where('id', '=', sync.id).where('next_run_at', '=', sync.next_run_at).executeTakeFirst();
        if (Number(took.numUpdatedRows) === 1) this.track(this.run(sync));
      }
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'sync schedule check failed');
    } finally {
      this.busy = false;
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Starts a run now (also what the schedule does); the run as created. A sync with a run still going is refused. */
  async runNow(sync: SyncTable): Promise<SyncRunTable> {
    return this.track(this.run(sync));
  }

  private async run(sync: SyncTable, now = Date.now()): Promise<SyncRunTable> {
    const db = this.o.db;
    const running = await db.selectFrom('sync_runs').select('id').where('sync_id', '=', sync.id).where('state', '=', 'running').executeTakeFirst();
    if (running) throw new D7yError('D7Y_CONFLICT', `sync ${sync.id} has a run still going (${running.id})`, { fix: 'wait for it to end (GET …/runs)' });
    const run: SyncRunTable = {
      id: randomUUID(), sync_id: sync.id, tenant_id: sync.tenant_id, state: 'running', job_id: null, report: '{}', changes: '{"changed":[],"removed":[]}',
      error: null, started_at: now, finished_at: null,
    };
    await db.insertInto('sync_runs').values(run).execute();
    try {
      const args = JSON.parse(sync.args) as SyncArgs;
      if (args.mode === 'copy') return await this.copy(sync, args, run);
      const { changes, listed } = await this.diff(sync, args);
      const report = { listed, changed: changes.changed.length, removed: changes.removed.length, warmed: 0, failed: 0 };
      run.report = JSON.stringify(report);
      run.changes = JSON.stringify(changes);
      if (!changes.changed.length) {
        await db.updateTable('sync_runs').set({ report: run.report, changes: run.changes }).where('id', '=', run.id).execute();
        return await this.finish(run, true, report, null);
      }
      const clusters = await this.clusters(sync.tenant_id, args.scheduler_cluster_ids);
      for (const c of clusters) await this.o.limiter.take(c);
      const timeoutMs = Math.min(args.timeout ?? this.o.config.jobs.defaultTimeout, this.o.config.jobs.defaultTimeout);
      const { job } = await insertJob(db, {
        tenantId: sync.tenant_id, type: 'preheat', createdBy: `sync:${sync.name}`, timeoutMs, clusters,
        args: { type: 'file', urls: changes.changed.map((c) => c.url), scope: args.scope, ips: args.ips, count: args.count, percentage: args.percentage, headers: args.headers },
      });
      run.job_id = job.id;
      await db.updateTable('sync_runs').set({ job_id: job.id, report: run.report, changes: run.changes }).where('id', '=', run.id).execute();
      return run;
    } catch (err) {
      const e = err as D7yError;
      return await this.finish(run, false, JSON.parse(run.report) as Record<string, unknown>, `${e.message}${e.fix ? ` (${e.fix})` : ''}`);
    }
  }

  /** Copy mode: the run is handed to a seed peer as a `sync_copy` command; it ends with the command's acknowledgement (finishCopyRun). */
  private async copy(sync: SyncTable, args: SyncArgs, run: SyncRunTable): Promise<SyncRunTable> {
    const alive = Date.now() - this.o.config.keepaliveTtl;
    let q = this.o.db.selectFrom('peers').select('id').where('tenant_id', '=', sync.tenant_id).where('type', '=', 'seed').where('last_keepalive_at', '>=', alive);
    if (args.seed_peer_id) q = q.where('id', '=', args.seed_peer_id);
    const seed = await q.orderBy('hostname').executeTakeFirst();
    if (!seed) {
      throw new D7yError('D7Y_CONFLICT', args.seed_peer_id ? `seed peer ${args.seed_peer_id} is not active` : 'no active seed peer to run the copy', {
        fix: 'start a seed peer with a manager link (peer.manager), or name an active one in seed_peer_id',
      });
    }
    const timeoutMs = Math.min(args.timeout ?? this.o.config.jobs.defaultTimeout, this.o.config.jobs.defaultTimeout);
    const [command] = await issueCommands(this.o.db, this.o.commands, {
      tenantId: sync.tenant_id, target: 'peer', ids: [seed.id], type: 'sync_copy', createdBy: `sync:${sync.name}`, ackTimeout: timeoutMs,
      args: { src: sync.source, dst: args.destination, headers: args.headers, include: args.include, exclude: args.exclude, delete: args.delete, max_entries: args.max_entries },
    });
    run.command_id = command!.id;
    await this.o.db.updateTable('sync_runs').set({ command_id: command!.id }).where('id', '=', run.id).execute();
    return run;
  }

  /** Ends the copy-mode run of a `sync_copy` command that was acknowledged or timed out; its report is the seed peer's summary. */
  async finishCopyRun(c: CommandTable): Promise<void> {
    const run = await this.o.db.selectFrom('sync_runs').selectAll().where('command_id', '=', c.id).where('state', '=', 'running').executeTakeFirst();
    if (!run) return;
    const result = (c.result ? JSON.parse(c.result) : {}) as Record<string, unknown>;
    const failed = typeof result.failed === 'number' ? result.failed : 0;
    const succeeded = c.state === 'succeeded' && failed === 0;
    await this.finish(run, succeeded, { ...result, seed_peer_id: c.scheduler_id }, succeeded ? null : c.error ?? `${failed} files failed`);
  }

  /** The objects of the source that differ from what was last warmed, and the paths gone from it. */
  private async diff(sync: SyncTable, args: SyncArgs): Promise<{ changes: RunChanges; listed: number }> {
    const client = this.o.sources.resolve(sync.source);
    if (!client.list) {
      throw new D7yError('D7Y_SOURCE_UNSUPPORTED_SCHEME', `the source of ${sync.source} cannot list`, { fix: 'give a listable source: an S3 or GCS prefix, an HDFS directory, a Maven group, a YUM repo or an OCI repository' });
    }
    const known = new Map((await this.o.db.selectFrom('sync_entries').select(['path', 'fingerprint']).where('sync_id', '=', sync.id).execute())
      .map((e) => [e.path, e.fingerprint]));
    const seen = new Set<string>();
    const changed: RunChanges['changed'] = [];
    for await (const e of client.list({ url: sync.source, recursive: true, headers: args.headers, signal: AbortSignal.timeout(LIST_TIMEOUT_MS) })) {
      if (e.isDirectory) continue;
      seen.add(e.path);
      if (seen.size > args.max_entries) {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `${sync.source} lists more than ${args.max_entries} objects`, { fix: 'raise the sync\'s max_entries or sync a narrower prefix' });
      }
      const f = fingerprint(e);
      if (known.get(e.path) !== f) changed.push({ path: e.path, fingerprint: f, url: e.url });
    }
    return { changes: { changed, removed: [...known.keys()].filter((p) => !seen.has(p)) }, listed: seen.size };
  }

  private async clusters(tenantId: string, ids?: string[]): Promise<string[]> {
    let q = this.o.db.selectFrom('scheduler_clusters').select('id').where('tenant_id', '=', tenantId);
    if (ids?.length) q = q.where('id', 'in', ids);
    const rows = await q.execute();
    if (!rows.length) throw new D7yError('D7Y_CONFLICT', 'the tenant has no scheduler cluster to warm', { fix: 'start a scheduler linked to this manager' });
    return rows.map((r) => r.id);
  }

  /** Ends the sync run whose preheat `jobId` ended; does nothing for other jobs. */
  async finishRunOf(jobId: string, succeeded: boolean, results: { state?: string }[], error: string | null): Promise<void> {
    const run = await this.o.db.selectFrom('sync_runs').selectAll().where('job_id', '=', jobId).where('state', '=', 'running').executeTakeFirst();
    if (!run) return;
    const report = { ...JSON.parse(run.report) as Record<string, unknown>, warmed: results.filter((r) => r.state === 'succeeded').length, failed: results.filter((r) => r.state === 'failed').length };
    await this.finish(run, succeeded, report, succeeded ? null : error ?? 'the preheat failed');
  }

  private async finish(run: SyncRunTable, succeeded: boolean, report: Record<string, unknown>, error: string | null): Promise<SyncRunTable> {
    const db = this.o.db;
    if (succeeded) {
      const changes = JSON.parse(run.changes) as RunChanges;
      for (let i = 0; i < changes.changed.length; i += UPSERT_BATCH) {
        const rows = changes.changed.slice(i, i + UPSERT_BATCH).map((c) => ({ sync_id: run.sync_id, path: c.path, fingerprint: c.fingerprint }));
        await db.insertInto('sync_entries').values(rows)
          .onConflict((oc) => oc.columns(['sync_id', 'path']).doUpdateSet((eb) => ({ fingerprint: eb.ref('excluded.fingerprint') }))).execute();
      }
      for (let i = 0; i < changes.removed.length; i += UPSERT_BATCH) {
        await db.deleteFrom('sync_entries').where('sync_id', '=', run.sync_id).where('path', 'in', changes.removed.slice(i, i + UPSERT_BATCH)).execute();
      }
    }
    const ended: SyncRunTable = { ...run, state: succeeded ? 'succeeded' : 'failed', report: JSON.stringify(report), error, finished_at: Date.now() };
    await db.updateTable('sync_runs').set({ state: ended.state, report: ended.report, error, finished_at: ended.finished_at }).where('id', '=', run.id).execute();
    await this.o.webhooks.emit(run.tenant_id, 'sync.run.finished', syncRunView(ended));
    return ended;
  }
}
