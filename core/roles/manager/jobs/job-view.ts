import type { JobRunTable, JobState, JobTable } from '../database/schema.js';
import type { PeerResult } from './job-schemas.js';

/** A job's state from its runs: all succeeded → succeeded; any unfinished → running/pending; else failed. */
export function jobState(runs: Pick<JobRunTable, 'state'>[]): JobState {
  if (runs.length === 0) return 'failed';
  if (runs.every((r) => r.state === 'succeeded')) return 'succeeded';
  if (runs.every((r) => r.state === 'pending')) return 'pending';
  if (runs.some((r) => r.state === 'pending' || r.state === 'running')) return 'running';
  return 'failed';
}

/** Job arguments as the API shows them: header values are credentials and never leave the manager. */
export function publicArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out = { ...args };
  if (out.headers && typeof out.headers === 'object') {
    out.headers = Object.fromEntries(Object.keys(out.headers as object).map((k) => [k, '[redacted]']));
  }
  return out;
}

/** A job with its per-cluster runs and per-peer results. */
export function jobView(job: JobTable, runs: JobRunTable[]): Record<string, unknown> {
  const results = runs.flatMap((r) => JSON.parse(r.result) as PeerResult[]);
  return {
    id: job.id, number: job.number, type: job.type, state: jobState(runs), args: publicArgs(JSON.parse(job.args) as Record<string, unknown>),
    created_by: job.created_by, timeout_ms: job.timeout_ms,
    created_at: new Date(job.created_at).toISOString(), updated_at: new Date(Math.max(job.updated_at, ...runs.map((r) => r.updated_at))).toISOString(),
    runs: runs.map((r) => ({
      cluster_id: r.cluster_id, state: r.state, scheduler_id: r.scheduler_id, error: r.error,
      results: JSON.parse(r.result) as PeerResult[], updated_at: new Date(r.updated_at).toISOString(),
    })),
    results,
    succeeded_peers: results.filter((p) => p.state === 'succeeded').length,
    failed_peers: results.filter((p) => p.state === 'failed').length,
  };
}
