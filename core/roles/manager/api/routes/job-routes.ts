import { randomUUID } from 'node:crypto';
import { D7yError } from '../../../../errors/d7y-error.js';
import { taskId } from '../../../../task/task-id.js';
import type { JobRunTable, JobTable } from '../../database/schema.js';
import {
  JobListQuerySchema, JobResultSchema, NewJobSchema, type NewJob, type PreheatArgs, type TaskArgs,
} from '../../jobs/job-schemas.js';
import { jobView } from '../../jobs/job-view.js';
import type { ManagerServices } from '../../manager-services.js';
import { consoleAndOpen, route, type ManagerRoute, type Principal } from '../manager-route.js';

const CLAIM_CANDIDATES = 5;

function splitParams(p: string | undefined): string[] | undefined {
  return p === undefined ? undefined : p.split('&').map((x) => x.trim()).filter(Boolean);
}

/** Jobs: created by users (console or PAT with scope `job`), picked up and reported by schedulers. */
export function jobRoutes(s: ManagerServices): ManagerRoute[] {
  const view = async (id: string) => {
    const job = await s.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const runs = await s.db.selectFrom('job_runs').selectAll().where('job_id', '=', id).orderBy('cluster_id').execute();
    return jobView(job, runs);
  };

  async function targetClusters(principal: Principal, ids: string[] | undefined): Promise<string[]> {
    const rows = await s.db.selectFrom('scheduler_clusters').select(['id', 'tenant_id'])
      .where((eb) => (ids?.length ? eb('id', 'in', ids) : eb('tenant_id', '=', principal.tenantId))).execute();
    for (const id of ids ?? []) {
      const row = rows.find((r) => r.id === id);
      if (!row) throw new D7yError('D7Y_NOT_FOUND', `scheduler cluster ${id} not found`, { fix: 'list clusters for valid ids' });
      if (row.tenant_id !== principal.tenantId) {
        throw new D7yError('D7Y_PERMISSION_DENIED', `scheduler cluster ${id} belongs to another tenant`, { fix: 'use a cluster of your tenant' });
      }
    }
    if (rows.length === 0) {
      throw new D7yError('D7Y_CONFLICT', 'the tenant has no scheduler cluster to run the job', {
        fix: 'start a scheduler configured with this manager (it registers its cluster), or create a cluster',
      });
    }
    return rows.map((r) => r.id);
  }

  async function storedArgs(job: NewJob): Promise<Record<string, unknown>> {
    if (job.type === 'preheat') {
      const a: PreheatArgs = job.args;
      const urls = a.type === 'image'
        ? await s.images.blobUrls(a.url!, { platform: a.platform, headers: a.headers })
        : a.urls ?? [a.url!];
      return { ...a, urls, url: a.url, filtered_query_params: splitParams(a.filtered_query_params) };
    }
    const a: TaskArgs = job.args;
    const id = a.task_id ?? taskId({
      url: a.url!, tag: a.tag, application: a.application, pieceLength: a.piece_length, filteredQueryParams: splitParams(a.filtered_query_params),
    });
    return { ...a, task_id: id };
  }

  return [
    ...consoleAndOpen('/api/v1/jobs', '/oapi/v1/jobs', 'job', {
      method: 'post', summary: 'Create a job: preheat, get_task or delete_task', body: NewJobSchema, status: 201,
      async handle({ principal, body }) {
        const clusters = await targetClusters(principal, body.scheduler_cluster_ids);
        if (body.type === 'preheat') for (const c of clusters) await s.limiter.take(c);
        const args = await storedArgs(body);
        const now = Date.now();
        const timeout = Math.min(body.args.timeout ?? s.config.jobs.defaultTimeout, s.config.jobs.defaultTimeout);
        const job: JobTable = {
          id: randomUUID(), tenant_id: principal.tenantId, type: body.type, args: JSON.stringify(args),
          created_by: `${principal.kind}:${principal.name}`, timeout_ms: timeout, created_at: now, updated_at: now,
        };
        const runs: JobRunTable[] = clusters.map((c) => ({
          job_id: job.id, cluster_id: c, tenant_id: principal.tenantId, state: 'pending', scheduler_id: null, result: '[]', error: null,
          deadline_at: now + timeout, created_at: now, updated_at: now,
        }));
        await s.db.transaction().execute(async (trx) => {
          await trx.insertInto('jobs').values(job).execute();
          await trx.insertInto('job_runs').values(runs).execute();
        });
        return jobView(job, runs);
      },
    }),
    ...consoleAndOpen('/api/v1/jobs', '/oapi/v1/jobs', 'job', {
      method: 'get', summary: 'List jobs of the tenant, newest first', query: JobListQuerySchema,
      async handle({ principal, query }) {
        let q = s.db.selectFrom('jobs').selectAll().where('tenant_id', '=', principal.tenantId);
        if (query.type) q = q.where('type', '=', query.type);
        const jobs = await q.orderBy('created_at', 'desc').limit(query.limit).execute();
        const runs = jobs.length ? await s.db.selectFrom('job_runs').selectAll().where('job_id', 'in', jobs.map((j) => j.id)).execute() : [];
        return jobs.map((j) => jobView(j, runs.filter((r) => r.job_id === j.id)));
      },
    }),
    ...consoleAndOpen('/api/v1/jobs/:id', '/oapi/v1/jobs/:id', 'job', {
      method: 'get', summary: 'Get a job with its per-peer results', resource: 'job',
      async handle({ params }) {
        return view(params.id);
      },
    }),
    route({
      method: 'post', path: '/oapi/v1/schedulers/:id/jobs/claim', summary: 'A scheduler takes the next pending job of its cluster',
      auth: 'pat', scope: 'job', resource: 'scheduler',
      async handle({ params }) {
        const sched = await s.db.selectFrom('schedulers').select('cluster_id').where('id', '=', params.id).executeTakeFirstOrThrow();
        const now = Date.now();
        const candidates = await s.db.selectFrom('job_runs').select(['job_id']).where('cluster_id', '=', sched.cluster_id)
          .where('state', '=', 'pending').where('deadline_at', '>', now).orderBy('created_at').limit(CLAIM_CANDIDATES).execute();
        for (const c of candidates) {
          const r = await s.db.updateTable('job_runs').set({ state: 'running', scheduler_id: params.id, updated_at: now })
            .where('job_id', '=', c.job_id).where('cluster_id', '=', sched.cluster_id).where('state', '=', 'pending').executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) continue;
          const job = await s.db.selectFrom('jobs').selectAll().where('id', '=', c.job_id).executeTakeFirstOrThrow();
          const run = await s.db.selectFrom('job_runs').select('deadline_at').where('job_id', '=', c.job_id).where('cluster_id', '=', sched.cluster_id).executeTakeFirstOrThrow();
          return { job: { id: job.id, type: job.type, args: JSON.parse(job.args) as unknown, timeout_ms: Math.max(1000, run.deadline_at - now) } };
        }
        return { job: null };
      },
    }),
    route({
      method: 'put', path: '/oapi/v1/jobs/:id/result', summary: 'A scheduler reports progress or the end of its run of a job',
      auth: 'pat', scope: 'job', resource: 'job', body: JobResultSchema,
      async handle({ params, body, principal }) {
        const sched = await s.db.selectFrom('schedulers').select(['cluster_id', 'tenant_id']).where('id', '=', body.scheduler_id).executeTakeFirst();
        if (!sched || sched.tenant_id !== principal.tenantId) {
          throw new D7yError('D7Y_NOT_FOUND', `scheduler ${body.scheduler_id} not found`, { fix: 'register the scheduler again' });
        }
        const r = await s.db.updateTable('job_runs')
          .set({ state: body.state, result: JSON.stringify(body.results), error: body.error ?? null, updated_at: Date.now() })
          .where('job_id', '=', params.id).where('cluster_id', '=', sched.cluster_id)
          .where('scheduler_id', '=', body.scheduler_id).where('state', '=', 'running').executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) {
          throw new D7yError('D7Y_CONFLICT', `job ${params.id} is not running on scheduler ${body.scheduler_id}`, {
            fix: 'the job timed out or another scheduler holds it; drop the result',
          });
        }
        return view(params.id);
      },
    }),
  ];
}
