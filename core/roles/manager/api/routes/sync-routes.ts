import { randomUUID } from 'node:crypto';
import type { SyncTable } from '../../database/schema.js';
import type { ManagerServices } from '../../manager-services.js';
import { syncRunView } from '../../syncs/sync-runner.js';
import { NewSyncSchema, nextRun, SyncRunsQuerySchema } from '../../syncs/sync-schemas.js';
import { consoleAndOpen, type ManagerRoute } from '../manager-route.js';

function syncView(x: SyncTable): Record<string, unknown> {
  const { headers, ...args } = JSON.parse(x.args) as Record<string, unknown>;
  return {
    id: x.id, name: x.name, source: x.source, schedule: x.schedule, state: x.state, ...args, headers: headers ? Object.keys(headers) : undefined,
    next_run_at: x.state === 'active' ? new Date(x.next_run_at).toISOString() : null, created_by: x.created_by, created_at: new Date(x.created_at).toISOString(),
  };
}

/** Sync jobs (scope `job`): keep peers warm with a source tree on a cron schedule; pause, resume, run now, delete, run history. */
export function syncRoutes(s: ManagerServices): ManagerRoute[] {
  const get = (id: string) => s.db.selectFrom('syncs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const setState = async (id: string, state: SyncTable['state']) => {
    const sync = await get(id);
    const now = Date.now();
    await s.db.updateTable('syncs').set({ state, next_run_at: state === 'active' ? nextRun(sync.schedule, now) : sync.next_run_at, updated_at: now }).where('id', '=', id).execute();
    return syncView(await get(id));
  };
  return [
    ...consoleAndOpen('/api/v1/syncs', '/oapi/v1/syncs', 'job', {
      method: 'post', summary: 'Create a sync job: on its cron schedule, preheat what changed in a listable source since its last run', body: NewSyncSchema, status: 201,
      async handle({ principal, body }) {
        s.sources.resolve(body.source);
        const { name, source, schedule, ...args } = body;
        const now = Date.now();
        const row: SyncTable = {
          id: randomUUID(), tenant_id: principal.tenantId, name: name ?? source, source, schedule, args: JSON.stringify(args), state: 'active',
          next_run_at: nextRun(schedule, now), created_by: `${principal.kind}:${principal.name}`, created_at: now, updated_at: now,
        };
        await s.db.insertInto('syncs').values(row).execute();
        return syncView(row);
      },
    }),
    ...consoleAndOpen('/api/v1/syncs', '/oapi/v1/syncs', 'job', {
      method: 'get', summary: 'List the tenant\'s sync jobs',
      async handle({ principal }) {
        return (await s.db.selectFrom('syncs').selectAll().where('tenant_id', '=', principal.tenantId).orderBy('created_at').execute()).map(syncView);
      },
    }),
    ...consoleAndOpen('/api/v1/syncs/:id', '/oapi/v1/syncs/:id', 'job', {
      method: 'get', summary: 'Get a sync job', resource: 'sync',
      async handle({ params }) {
        return syncView(await get(params.id));
      },
    }),
    ...consoleAndOpen('/api/v1/syncs/:id/pause', '/oapi/v1/syncs/:id/pause', 'job', {
      method: 'post', summary: 'Pause a sync job (a run under way ends normally)', resource: 'sync',
      handle: ({ params }) => setState(params.id, 'paused'),
    }),
    ...consoleAndOpen('/api/v1/syncs/:id/resume', '/oapi/v1/syncs/:id/resume', 'job', {
      method: 'post', summary: 'Resume a paused sync job at its next scheduled time', resource: 'sync',
      handle: ({ params }) => setState(params.id, 'active'),
    }),
    ...consoleAndOpen('/api/v1/syncs/:id/run', '/oapi/v1/syncs/:id/run', 'job', {
      method: 'post', summary: 'Start a run of a sync job now', resource: 'sync', status: 201,
      async handle({ params }) {
        return syncRunView(await s.syncs.runNow(await get(params.id)));
      },
    }),
    ...consoleAndOpen('/api/v1/syncs/:id/runs', '/oapi/v1/syncs/:id/runs', 'job', {
      method: 'get', summary: 'A sync job\'s runs, newest first, each with its report (listed, changed, removed, warmed, failed)', resource: 'sync', query: SyncRunsQuerySchema,
      async handle({ params, query }) {
        const runs = await s.db.selectFrom('sync_runs').selectAll().where('sync_id', '=', params.id).orderBy('started_at', 'desc').limit(query.limit).execute();
        return runs.map(syncRunView);
      },
    }),
    ...consoleAndOpen('/api/v1/syncs/:id', '/oapi/v1/syncs/:id', 'job', {
      method: 'delete', summary: 'Delete a sync job with its runs and state', resource: 'sync',
      async handle({ params }) {
        await s.db.transaction().execute(async (trx) => {
          for (const t of ['sync_runs', 'sync_entries'] as const) await trx.deleteFrom(t).where('sync_id', '=', params.id).execute();
          await trx.deleteFrom('syncs').where('id', '=', params.id).execute();
        });
        return { id: params.id, deleted: true };
      },
    }),
  ];
}
