import { z } from 'zod';
import { D7yError } from '../../../errors/d7y-error.js';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH } from '../../../task/piece-length.js';
import type { JobRunTable, JobState, JobTable } from '../database/schema.js';
import { PREHEAT_SCOPES, type NewJob, type PeerResult } from './job-schemas.js';
import { jobState, publicArgs } from './job-view.js';

/*
 * Dragonfly's open-API job shapes (manager/types/job.go, manager/models/job.go, internal/job), as
 * Harbor's preheat provider and other Dragonfly clients send and read them. Go clients send every
 * field, zero values included (`"scope":""`, `"timeout":0`, `"scheduler_cluster_ids":null`), and
 * Dragonfly ignores keys it does not know; so do these schemas. A field d7y cannot honour with a
 * value that is not its zero value is a 400 naming it.
 */

const NS_PER_MS = 1_000_000;
const pieceLength = z.number().int().min(MIN_PIECE_LENGTH).max(MAX_PIECE_LENGTH).nullish();
/** Go's time.Duration: nanoseconds; 0 means the default. */
const duration = z.number().int().min(0).optional();
const unsupported = (what: string) => z.unknown().refine((v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0), {
  message: `d7y does not take ${what} in a job: configure the source plugin of that origin instead`,
}).optional();

const DragonflyPreheatArgs = z.object({
  type: z.enum(['image', 'file']),
  url: z.string().max(4096).optional(),
  urls: z.array(z.string().max(4096)).max(1000).nullish(),
  piece_length: pieceLength,
  tag: z.string().max(255).optional(),
  application: z.string().max(255).optional(),
  filtered_query_params: z.string().max(1024).optional(),
  headers: z.record(z.string(), z.string()).nullish(),
  username: z.string().max(1024).optional(),
  password: z.string().max(1024).optional(),
  platform: z.string().max(64).optional(),
  scope: z.union([z.enum(PREHEAT_SCOPES), z.literal('')]).optional(),
  ips: z.array(z.string().max(64)).max(100).nullish(),
  percentage: z.number().int().min(1).max(100).nullish(),
  count: z.number().int().min(1).max(200).nullish(),
  concurrent_task_count: z.number().int().min(0).max(100).optional(),
  concurrent_peer_count: z.number().int().min(0).max(1000).optional(),
  /** Harbor's name for the peers preheated at once. */
  concurrent_count: z.number().int().min(0).optional(),
  timeout: duration,
  object_storage: unsupported('object_storage credentials'),
  hdfs: unsupported('hdfs settings'),
});

const DragonflyTaskArgs = z.object({
  task_id: z.string().max(64).optional(),
  url: z.string().max(4096).optional(),
  piece_length: pieceLength,
  tag: z.string().max(255).optional(),
  application: z.string().max(255).optional(),
  filtered_query_params: z.string().max(1024).optional(),
  content_for_calculating_task_id: z.string().max(0, 'd7y computes task ids from the URL: give url or task_id instead').nullish(),
  concurrent_peer_count: z.number().int().min(0).max(1000).optional(),
  timeout: duration,
});

const clusterNumbers = z.array(z.number().int().min(1)).max(100).nullish();
const common = {
  bio: z.string().max(1024).optional(),
  user_id: z.number().int().min(0).optional(),
  scheduler_cluster_ids: clusterNumbers,
  seed_peer_cluster_ids: z.array(z.number().int()).max(0, 'd7y runs jobs in scheduler clusters: give scheduler_cluster_ids').nullish(),
};

/** Dragonfly's `POST /oapi/v1/jobs` body, for the job types d7y runs. */
export const DragonflyNewJobSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('preheat'), args: DragonflyPreheatArgs, ...common }),
  z.object({ type: z.literal('get_task'), args: DragonflyTaskArgs, ...common }),
  z.object({ type: z.literal('delete_task'), args: DragonflyTaskArgs, ...common }),
], { error: (i) => (i.code === 'invalid_union' ? 'd7y runs the Dragonfly job types preheat, get_task and delete_task (not sync_peers, get_image_distribution or gc)' : undefined) });
export type DragonflyNewJob = z.infer<typeof DragonflyNewJobSchema>;

/** Dragonfly's `GET /oapi/v1/jobs` query: pages of `per_page` (default 10), optionally by type and state. */
export const DragonflyJobListQuerySchema = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(1000).default(10),
  type: z.string().max(32).optional(),
  state: z.enum(['PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE']).optional(),
  user_id: z.coerce.number().int().optional(),
});
export type DragonflyJobListQuery = z.infer<typeof DragonflyJobListQuerySchema>;

const DRAGONFLY_ONLY_ARGS = ['concurrent_count', 'username', 'password', 'object_storage', 'hdfs', 'content_for_calculating_task_id'];
const DRAGONFLY_ONLY_TYPES = ['sync_peers', 'get_image_distribution', 'gc'];

/**
 * True for a job body in Dragonfly's shape rather than d7y's: integer or null cluster ids, a key
 * or a job type only Dragonfly has, or a Go zero value d7y's schema refuses (`"timeout":0`,
 * `"scope":""`). Harbor's requests always are. A body d7y's own schema takes is d7y's.
 */
export function isDragonflyJobBody(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const b = body as Record<string, unknown>;
  const args = (b.args && typeof b.args === 'object' ? b.args : {}) as Record<string, unknown>;
  const ids = b.scheduler_cluster_ids;
  return ids === null || (Array.isArray(ids) && ids.some((x) => typeof x === 'number'))
    || 'user_id' in b || 'seed_peer_cluster_ids' in b || DRAGONFLY_ONLY_TYPES.includes(String(b.type))
    || DRAGONFLY_ONLY_ARGS.some((k) => k in args) || args.timeout === 0 || args.scope === '';
}

function invalid(path: string, message: string, fix: string): D7yError {
  return new D7yError('D7Y_INVALID_ARGUMENT', `invalid request body: ${path}: ${message}`, { fix, details: { issues: [{ path, message }] } });
}

function timeoutMs(ns: number | undefined): number | undefined {
  if (!ns) return undefined;
  const ms = Math.ceil(ns / NS_PER_MS);
  if (ms < 1000) throw invalid('body.args.timeout', `${ns} ns is under a second`, 'give at least 1000000000 (1 s), or 0 for the default');
  return Math.min(ms, 24 * 3600_000);
}

const orUndefined = <T>(v: T | null | undefined): T | undefined => (v === null || v === '' ? undefined : v);

/** A Dragonfly job body as the body of d7y's NewJob (to be checked by its schema), and the cluster numbers it names. */
export function fromDragonfly(body: DragonflyNewJob): { job: { type: NewJob['type']; args: Record<string, unknown> }; numbers: number[] } {
  const numbers = body.scheduler_cluster_ids ?? [];
  if (body.type !== 'preheat') {
    const a = body.args;
    if (!a.task_id === !a.url) throw invalid('body.args.task_id', 'give exactly one of task_id and url', 'set task_id or url');
    const args = {
      task_id: orUndefined(a.task_id), url: orUndefined(a.url), tag: a.tag ?? '', application: a.application ?? '',
      piece_length: orUndefined(a.piece_length), filtered_query_params: orUndefined(a.filtered_query_params), timeout: timeoutMs(a.timeout),
    };
    return { job: { type: body.type, args }, numbers };
  }
  const a = body.args;
  const urls = a.urls?.filter(Boolean) ?? [];
  if (Boolean(a.url) === urls.length > 0) throw invalid('body.args.url', 'give exactly one of url and urls', 'set url (an image takes its manifest URL)');
  if (a.type === 'image' && urls.length) throw invalid('body.args.urls', 'an image preheat takes its manifest as url', 'set url to the manifest URL');
  for (const [i, u] of [a.url ?? '', ...urls].entries()) {
    if (u && !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(u)) throw invalid(i === 0 && a.url ? 'body.args.url' : 'body.args.urls', `"${u.slice(0, 100)}" is not a URL with a scheme`, 'give http(s)://… URLs');
  }
  const headers = { ...a.headers };
  if (a.username && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
    headers.Authorization = `Basic ${Buffer.from(`${a.username}:${a.password ?? ''}`).toString('base64')}`;
  }
  const peers = a.concurrent_peer_count || a.concurrent_count;
  const args = {
    type: a.type, url: orUndefined(a.url), urls: urls.length ? urls : undefined, piece_length: orUndefined(a.piece_length),
    tag: a.tag ?? '', application: a.application ?? '', filtered_query_params: orUndefined(a.filtered_query_params),
    headers: Object.keys(headers).length ? headers : undefined, platform: orUndefined(a.platform),
    scope: orUndefined(a.scope) ?? 'single_seed_peer', ips: a.ips?.length ? a.ips : undefined,
    count: orUndefined(a.count), percentage: orUndefined(a.percentage), load_to_memory: false,
    concurrent_task_count: a.concurrent_task_count || 8, concurrent_peer_count: Math.min(peers || 500, 1000), timeout: timeoutMs(a.timeout),
  };
  return { job: { type: 'preheat', args }, numbers };
}

const DRAGONFLY_STATE: Record<JobState, 'PENDING' | 'SUCCESS' | 'FAILURE'> = {
  pending: 'PENDING', running: 'PENDING', succeeded: 'SUCCESS', failed: 'FAILURE',
};

/** Dragonfly's state of a d7y job: PENDING until every cluster's run ends, then SUCCESS or FAILURE. */
export function dragonflyState(state: JobState): 'PENDING' | 'SUCCESS' | 'FAILURE' {
  return DRAGONFLY_STATE[state];
}

/** The scheduler clusters a view names, by id: their integer alias and name. */
export type ClusterNames = ReadonlyMap<string, { number: number; name: string }>;

const iso = (ms: number) => new Date(ms).toISOString();
const hostType = (p: PeerResult) => (p.host_id.endsWith('-seed') ? 'super' : 'normal');

/** One cluster's results in the shape Dragonfly gives for the job's type. */
function runResult(type: JobTable['type'], run: JobRunTable, clusterNumber: number): Record<string, unknown> {
  const results = JSON.parse(run.result) as PeerResult[];
  const ok = results.filter((p) => p.state === 'succeeded');
  const failed = results.filter((p) => p.state === 'failed');
  if (type === 'preheat') {
    return {
      success_tasks: ok.map((p) => ({ url: p.url ?? '', hostname: p.hostname, ip: p.ip })),
      failure_tasks: failed.map((p) => ({ url: p.url ?? '', hostname: p.hostname, ip: p.ip, description: p.error ?? '' })),
      scheduler_cluster_id: clusterNumber,
    };
  }
  if (type === 'get_task') {
    return {
      peers: ok.map((p) => ({
        id: p.host_id, hostname: p.hostname, ip: p.ip, host_type: hostType(p), created_at: iso(run.created_at), updated_at: iso(run.updated_at), IsFinished: true,
      })),
      scheduler_cluster_id: clusterNumber,
    };
  }
  return {
    success_tasks: ok.map((p) => ({ hostname: p.hostname, ip: p.ip, host_type: hostType(p) })),
    failure_tasks: failed.map((p) => ({ hostname: p.hostname, ip: p.ip, host_type: hostType(p), description: p.error ?? '' })),
    scheduler_cluster_id: clusterNumber,
  };
}

/**
 * A d7y job as Dragonfly's `models.Job`: integer `id` (the job's alias), `state` PENDING, SUCCESS
 * or FAILURE, and `result.job_states`, one per scheduler cluster, each with its error and its
 * results (preheat: `success_tasks`/`failure_tasks` with url, hostname, ip). `task_id` is d7y's id.
 */
export function dragonflyJobView(job: JobTable, runs: JobRunTable[], clusters: ClusterNames): Record<string, unknown> {
  const state = dragonflyState(jobState(runs));
  const updated = Math.max(job.updated_at, ...runs.map((r) => r.updated_at));
  const args = publicArgs(JSON.parse(job.args) as Record<string, unknown>);
  return {
    id: job.number, created_at: iso(job.created_at), updated_at: iso(updated), is_del: 0, task_id: job.id,
    bio: '', type: job.type, state, args,
    result: {
      state, created_at: iso(job.created_at), updated_at: iso(updated),
      job_states: runs.map((r) => ({
        task_uuid: `${job.id}/${r.cluster_id}`, task_name: job.type, state: dragonflyState(jobState([r])),
        results: r.state === 'pending' ? [] : [runResult(job.type, r, clusters.get(r.cluster_id)?.number ?? 0)],
        error: r.error ?? '', created_at: iso(r.created_at), ttl: 0,
      })),
    },
    user_id: 0, seed_peer_clusters: [],
    scheduler_clusters: runs.map((r) => ({ id: clusters.get(r.cluster_id)?.number ?? 0, name: clusters.get(r.cluster_id)?.name ?? '' })),
  };
}
