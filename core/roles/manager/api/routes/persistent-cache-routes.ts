import { setTimeout as delay } from 'node:timers/promises';
import { D7yError } from '../../../../errors/d7y-error.js';
import type { ManagerServices } from '../../manager-services.js';
import {
  CacheReportSchema, CacheTaskListQuerySchema, type CacheTaskListQuery, type ReportedCacheTask,
} from '../../persistent-cache/cache-task-schemas.js';
import { cacheTaskView, type CacheTaskView } from '../../persistent-cache/cache-task-view.js';
import { consoleAndOpen, Reply, route, type ManagerRoute, type Principal } from '../manager-route.js';

/** How long a DELETE waits for the schedulers to confirm (their next report without the task). */
const DELETE_WAIT_MS = 15_000;
const DELETE_POLL_MS = 200;
/** Rows written per insert of a report. */
const INSERT_CHUNK = 100;

const HEX64 = /^[0-9a-f]{64}$/;

function checkTaskId(id: string): void {
  if (!HEX64.test(id)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${id.slice(0, 80)}" is not a persistent cache task id: expected 64 lower-case hex characters`, {
      fix: 'take the id from GET /oapi/v1/persistent-cache-tasks (or d7y cache list --manager)',
    });
  }
}

function notFound(id: string, deleted: boolean): D7yError {
  return deleted
    ? new D7yError('D7Y_NOT_FOUND', `persistent cache task ${id} was deleted`, { fix: 'import the file again (d7y cache import)' })
    : new D7yError('D7Y_NOT_FOUND', `no persistent cache task ${id} in any scheduler cluster of this tenant`, {
      fix: 'check the id (GET /oapi/v1/persistent-cache-tasks lists the tasks); a task the schedulers have not reported yet shows within a few seconds',
    });
}

/**
 * Persistent-cache tasks: schedulers report theirs (`PUT /oapi/v1/schedulers/:id/persistent-cache-tasks`,
 * scope `cluster`) and learn in the answer which ones to delete; users list, inspect and delete
 * them (scope `persistent_cache`). A delete is carried out by every scheduler that reports the task
 * (each tells its peers to drop their copies) and is answered once none reports it any more.
 */
export function persistentCacheRoutes(s: ManagerServices): ManagerRoute[] {
  const ttl = s.config.keepaliveTtl;

  /** The rows of the tenant's active schedulers, optionally of one task or one cluster. */
  async function rowsOf(principal: Principal, filter: { taskId?: string; clusterId?: string }) {
    let q = s.db.selectFrom('persistent_cache_tasks').innerJoin('schedulers', 'schedulers.id', 'persistent_cache_tasks.scheduler_id')
      .select(['persistent_cache_tasks.task_id', 'persistent_cache_tasks.cluster_id', 'persistent_cache_tasks.task'])
      .where('persistent_cache_tasks.tenant_id', '=', principal.tenantId)
      .where('schedulers.last_keepalive_at', '>=', Date.now() - ttl);
    if (filter.taskId) q = q.where('persistent_cache_tasks.task_id', '=', filter.taskId);
    if (filter.clusterId) q = q.where('persistent_cache_tasks.cluster_id', '=', filter.clusterId);
    const rows = await q.execute();
    return rows.map((r) => ({ task_id: r.task_id, cluster_id: r.cluster_id, task: JSON.parse(r.task) as ReportedCacheTask }));
  }

  async function deletions(principal: Principal, taskIds?: string[]): Promise<Set<string>> {
    let q = s.db.selectFrom('persistent_cache_deletions').select('task_id')
      .where('tenant_id', '=', principal.tenantId).where('expires_at', '>', Date.now());
    if (taskIds) {
      if (taskIds.length === 0) return new Set();
      q = q.where('task_id', 'in', taskIds);
    }
    return new Set((await q.execute()).map((r) => r.task_id));
  }

  async function view(principal: Principal, id: string): Promise<CacheTaskView> {
    checkTaskId(id);
    const rows = await rowsOf(principal, { taskId: id });
    const deleting = (await deletions(principal, [id])).has(id);
    if (rows.length === 0) throw notFound(id, deleting);
    return cacheTaskView(rows, deleting);
  }

  async function list(principal: Principal, query: CacheTaskListQuery): Promise<Reply> {
    if (query.scheduler_cluster_id) {
      const c = await s.db.selectFrom('scheduler_clusters').select('tenant_id').where('id', '=', query.scheduler_cluster_id).executeTakeFirst();
      if (!c || c.tenant_id !== principal.tenantId) {
        throw new D7yError('D7Y_NOT_FOUND', `scheduler cluster ${query.scheduler_cluster_id} not found`, { fix: 'list the clusters (GET /oapi/v1/clusters) for valid ids' });
      }
    }
    const rows = await rowsOf(principal, { clusterId: query.scheduler_cluster_id });
    const byTask = new Map<string, typeof rows>();
    for (const r of rows) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), r]);
    const deleting = await deletions(principal);
    const all = [...byTask.entries()].map(([id, rs]) => cacheTaskView(rs, deleting.has(id)))
      .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.task_id < b.task_id ? -1 : 1));
    const start = (query.page - 1) * query.per_page;
    const last = Math.max(1, Math.ceil(all.length / query.per_page));
    const at = (p: number, rel: string) => `</oapi/v1/persistent-cache-tasks?page=${p}&per_page=${query.per_page}>;rel=${rel}`;
    const link = [at(Math.max(1, query.page - 1), 'prev'), at(Math.min(last, query.page + 1), 'next'), at(1, 'first'), at(last, 'last')].join(',');
    return new Reply(200, all.slice(start, start + query.per_page), { Link: link, 'X-Total-Count': String(all.length) });
  }

  async function remove(principal: Principal, id: string): Promise<Reply> {
    const before = await view(principal, id);
    const now = Date.now();
    const rows = await rowsOf(principal, { taskId: id });
    const expiresAt = Math.max(now + 60_000, ...rows.map((r) => r.task.created_at + r.task.ttl_ms));
    await s.db.insertInto('persistent_cache_deletions')
      .values({ tenant_id: principal.tenantId, task_id: id, requested_by: `${principal.kind}:${principal.name}`, created_at: now, expires_at: expiresAt })
      .onConflict((oc) => oc.columns(['tenant_id', 'task_id']).doUpdateSet({ created_at: now, expires_at: expiresAt })).execute();
    s.logger.info({ taskId: id, by: principal.name }, 'persistent cache task delete asked');
    const hosts = before.persistent_cache_peers.map((p) => ({ id: p.host.id, hostname: p.host.hostname, ip: p.host.ip, persistent: p.persistent }));
    const deadline = now + DELETE_WAIT_MS;
    while (Date.now() < deadline) {
      if ((await rowsOf(principal, { taskId: id })).length === 0) return new Reply(200, { task_id: id, state: 'deleted', hosts });
      await delay(DELETE_POLL_MS);
    }
    return new Reply(202, { task_id: id, state: 'deleting', hosts, message: 'the schedulers have not confirmed the delete yet; it goes on' });
  }

  return [
    route({
      method: 'put', path: '/oapi/v1/schedulers/:id/persistent-cache-tasks', audit: 'failures',
      summary: 'A scheduler reports its persistent-cache tasks; the answer names those to delete', auth: 'pat', scope: 'cluster',
      resource: 'scheduler', body: CacheReportSchema,
      async handle({ params, body, principal }) {
        const now = Date.now();
        if (body.tasks) {
          const sched = await s.db.selectFrom('schedulers').select('cluster_id').where('id', '=', params.id).executeTakeFirstOrThrow();
          const rows = body.tasks.map((t) => ({
            scheduler_id: params.id, task_id: t.id, tenant_id: principal.tenantId, cluster_id: sched.cluster_id, task: JSON.stringify(t), reported_at: now,
          }));
          await s.db.transaction().execute(async (trx) => {
            await trx.deleteFrom('persistent_cache_tasks').where('scheduler_id', '=', params.id).execute();
            for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('persistent_cache_tasks').values(rows.slice(i, i + INSERT_CHUNK)).execute();
          });
        }
        await s.db.deleteFrom('persistent_cache_deletions').where('expires_at', '<=', now).execute();
        const held = s.db.selectFrom('persistent_cache_tasks').select('task_id').where('scheduler_id', '=', params.id);
        const pending = await s.db.selectFrom('persistent_cache_deletions').select('task_id')
          .where('tenant_id', '=', principal.tenantId).where('task_id', 'in', held).execute();
        return { delete_task_ids: pending.map((r) => r.task_id) };
      },
    }),
    ...consoleAndOpen('/api/v1/persistent-cache-tasks', '/oapi/v1/persistent-cache-tasks', 'persistent_cache', {
      method: 'get', summary: 'List the persistent-cache tasks of the tenant\'s scheduler clusters, newest first, with their holders',
      query: CacheTaskListQuerySchema,
      handle: ({ principal, query }) => list(principal, query),
    }),
    ...consoleAndOpen('/api/v1/persistent-cache-tasks/:id', '/oapi/v1/persistent-cache-tasks/:id', 'persistent_cache', {
      method: 'get', summary: 'Get one persistent-cache task with the hosts holding it',
      handle: ({ principal, params }) => view(principal, String(params.id)),
    }),
    ...consoleAndOpen('/api/v1/persistent-cache-tasks/:id', '/oapi/v1/persistent-cache-tasks/:id', 'persistent_cache', {
      method: 'delete', summary: 'Delete a persistent-cache task: every copy on every peer, cluster-wide (202 while schedulers have not confirmed)',
      handle: ({ principal, params }) => remove(principal, String(params.id)),
    }),
  ];
}
