import { D7yError } from '../../../../errors/d7y-error.js';
import { taskId } from '../../../../task/task-id.js';
import type { JobRunTable, JobTable } from '../../database/schema.js';
import {
  JobListQuerySchema, JobResultSchema, NewJobSchema, type NewJob, type PreheatArgs, type TaskArgs,
} from '../../jobs/job-schemas.js';
import { jobState, jobView } from '../../jobs/job-view.js';
import type { ManagerServices } from '../../manager-services.js';
import { insertJob } from '../../jobs/job-store.js';
import {
  DragonflyJobListQuerySchema, DragonflyNewJobSchema, dragonflyJobView, dragonflyState, fromDragonfly, isDragonflyJobBody,
  type ClusterNames, type DragonflyJobListQuery, type DragonflyNewJob,
} from '../../jobs/dragonfly-jobs.js';
import { describeZodError } from '../http-app.js';
import { announceJobEnds } from '../../webhooks/manager-events.js';
import { consoleAndOpen, Reply, route, type ManagerRoute, type Principal, type RouteDialect } from '../manager-route.js';

const CLAIM_CANDIDATES = 5;
/** Jobs a Dragonfly listing filtered by state looks through, newest first. */
const STATE_FILTER_SCAN = 5000;

const dragonflyBody: RouteDialect = {
  name: 'dragonfly', body: DragonflyNewJobSchema, applies: ({ body }) => isDragonflyJobBody(body),
  when: 'the body is Dragonfly\'s (integer or null scheduler_cluster_ids, Go zero values such as "timeout":0, or keys only Dragonfly has); the answer is then Dragonfly\'s models.Job with status 200',
};
const dragonflyList: RouteDialect = {
  name: 'dragonfly', query: DragonflyJobListQuerySchema, applies: ({ query }) => 'page' in query || 'per_page' in query,
  when: 'the query has page or per_page; the answer is then an array of Dragonfly\'s models.Job with a Link header',
};
const dragonflyGet: RouteDialect = {
  name: 'dragonfly', applies: ({ params }) => /^[0-9]+$/.test(params.id ?? ''),
  when: 'the id is the job\'s integer alias; the answer is then Dragonfly\'s models.Job',
};

/** Dragonfly's `Link` header of a page: first, prev, next and last. */
function linkHeader(path: string, page: number, perPage: number, total: number): string {
  const last = Math.max(1, Math.ceil(total / perPage));
  const at = (p: number, rel: string) => `<${path}?page=${p}&per_page=${perPage}>;rel=${rel}`;
  return [at(page === 1 ? 1 : page - 1, 'prev'), at(page >= last ? page : page + 1, 'next'), at(1, 'first'), at(last, 'last')].join(',');
}

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

  const clusterNames = async (ids: string[]): Promise<ClusterNames> => {
    const rows = ids.length ? await s.db.selectFrom('scheduler_clusters').select(['id', 'number', 'name']).where('id', 'in', [...new Set(ids)]).execute() : [];
    return new Map(rows.map((r) => [r.id, { number: r.number, name: r.name }]));
  };
  const dragonflyView = async (job: JobTable, runs: JobRunTable[]) => dragonflyJobView(job, runs, await clusterNames(runs.map((r) => r.cluster_id)));

  /** The d7y job a Dragonfly body asks for, with its integer cluster ids turned into the tenant's clusters. */
  async function fromDragonflyBody(principal: Principal, body: DragonflyNewJob): Promise<NewJob> {
    const { job, numbers } = fromDragonfly(body);
    const rows = numbers.length ? await s.db.selectFrom('scheduler_clusters').select(['id', 'number', 'tenant_id']).where('number', 'in', numbers).execute() : [];
    const ids = numbers.map((n) => {
      const row = rows.find((r) => r.number === n);
      if (!row || row.tenant_id !== principal.tenantId) {
        throw new D7yError('D7Y_NOT_FOUND', `scheduler cluster ${n} not found`, { fix: 'list the clusters (GET /oapi/v1/clusters): each has its integer id as "number"' });
      }
      return row.id;
    });
    const r = NewJobSchema.safeParse({ ...job, ...(ids.length && { scheduler_cluster_ids: ids }) });
    if (!r.success) {
      const { message, issues } = describeZodError(r.error, 'body');
      throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid request body: ${message}`, { fix: 'correct the fields named above (see /openapi.json)', details: { issues } });
    }
    return r.data;
  }

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

  /** One page of the tenant's jobs in Dragonfly's shape, with its Link header. */
  async function dragonflyPage(principal: Principal, query: DragonflyJobListQuery): Promise<Reply> {
    const known = ['preheat', 'get_task', 'delete_task'];
    if (query.type && !known.includes(query.type)) return new Reply(200, [], { Link: linkHeader('/oapi/v1/jobs', query.page, query.per_page, 0) });
    let q = s.db.selectFrom('jobs').selectAll().where('tenant_id', '=', principal.tenantId);
    if (query.type) q = q.where('type', '=', query.type as JobTable['type']);
    q = q.orderBy('created_at', 'desc').orderBy('number', 'desc');
    const offset = (query.page - 1) * query.per_page;
    let jobs: JobTable[];
    let total: number;
    const runsOf = async (ids: string[]) => (ids.length ? s.db.selectFrom('job_runs').selectAll().where('job_id', 'in', ids).execute() : []);
    if (query.state) {
      const scanned = await q.limit(STATE_FILTER_SCAN).execute();
      const runs = await runsOf(scanned.map((j) => j.id));
      const wanted = scanned.filter((j) => dragonflyState(jobState(runs.filter((r) => r.job_id === j.id))) === query.state);
      total = wanted.length;
      jobs = wanted.slice(offset, offset + query.per_page);
    } else {
      let counted = s.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', principal.tenantId);
      if (query.type) counted = counted.where('type', '=', query.type as JobTable['type']);
      total = Number((await counted.executeTakeFirstOrThrow()).n);
      jobs = await q.limit(query.per_page).offset(offset).execute();
    }
    const runs = await runsOf(jobs.map((j) => j.id));
    const names = await clusterNames(runs.map((r) => r.cluster_id));
    const body = jobs.map((j) => dragonflyJobView(j, runs.filter((r) => r.job_id === j.id), names));
    return new Reply(200, body, { Link: linkHeader('/oapi/v1/jobs', query.page, query.per_page, total) });
  }

  return [
    ...consoleAndOpen('/api/v1/jobs', '/oapi/v1/jobs', 'job', {
      method: 'post', summary: 'Create a job: preheat, get_task or delete_task', body: NewJobSchema, status: 201, dialect: dragonflyBody,
      async handle({ principal, body: given, dialect }) {
        const body = dialect ? await fromDragonflyBody(principal, given as unknown as DragonflyNewJob) : given;
        const clusters = await targetClusters(principal, body.scheduler_cluster_ids);
        if (body.type === 'preheat') for (const c of clusters) await s.limiter.take(c);
        const args = await storedArgs(body);
        const timeout = Math.min(body.args.timeout ?? s.config.jobs.defaultTimeout, s.config.jobs.defaultTimeout);
        const { job, runs } = await insertJob(s.db, {
          tenantId: principal.tenantId, type: body.type, args, createdBy: `${principal.kind}:${principal.name}`, timeoutMs: timeout, clusters,
        });
        return dialect ? new Reply(200, await dragonflyView(job, runs)) : jobView(job, runs);
      },
    }),
    ...consoleAndOpen('/api/v1/jobs', '/oapi/v1/jobs', 'job', {
      method: 'get', summary: 'List jobs of the tenant, newest first', query: JobListQuerySchema, dialect: dragonflyList,
      async handle({ principal, query, dialect }) {
        if (dialect) return dragonflyPage(principal, query as unknown as DragonflyJobListQuery);
        let q = s.db.selectFrom('jobs').selectAll().where('tenant_id', '=', principal.tenantId);
        if (query.type) q = q.where('type', '=', query.type);
        const jobs = await q.orderBy('created_at', 'desc').limit(query.limit).execute();
        const runs = jobs.length ? await s.db.selectFrom('job_runs').selectAll().where('job_id', 'in', jobs.map((j) => j.id)).execute() : [];
        return jobs.map((j) => jobView(j, runs.filter((r) => r.job_id === j.id)));
      },
    }),
    ...consoleAndOpen('/api/v1/jobs/:id', '/oapi/v1/jobs/:id', 'job', {
      method: 'get', summary: 'Get a job with its per-peer results', resource: 'job', dialect: dragonflyGet,
      async handle({ params, dialect }) {
        if (dialect) {
          const job = await s.db.selectFrom('jobs').selectAll().where('id', '=', params.id).executeTakeFirstOrThrow();
          return dragonflyView(job, await s.db.selectFrom('job_runs').selectAll().where('job_id', '=', params.id).orderBy('cluster_id').execute());
        }
        return view(params.id);
      },
    }),
    route({
      method: 'post', path: '/oapi/v1/schedulers/:id/jobs/claim', audit: 'failures', summary: 'A scheduler takes the next pending job of its cluster',
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
        if (body.state !== 'running') await announceJobEnds(s.db, s.webhooks, [params.id], s.syncs);
        return view(params.id);
      },
    }),
  ];
}
