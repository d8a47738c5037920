import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

/** The next time `schedule` (5 fields, or 6 with seconds first) fires after `now`. */
export function nextRun(schedule: string, now: number): number {
  return CronExpressionParser.parse(schedule, { currentDate: new Date(now) }).next().getTime();
}

const Cron = z.string().min(9).max(255).superRefine((v, ctx) => {
  try {
    nextRun(v, Date.now());
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a cron schedule (${(err as Error).message}); e.g. "*/15 * * * *"` });
  }
});

export const NewSyncSchema = z.strictObject({
  /**
   * `warm` (default): preheat what changed on peers. `copy`: a seed peer copies the source tree
   * to `destination` (a directory on that seed, or an object store) with the engine of `d7y sync`.
   */
  mode: z.enum(['warm', 'copy']).default('warm'),
  /** Copy mode: where the seed peer writes (a local directory on it, or s3://, gs://, hdfs://). */
  destination: z.string().min(1).max(4096).optional(),
  /** Copy mode: the seed peer (an id from GET /peers) that runs it; unset: the first active seed peer. */
  seed_peer_id: z.string().min(1).max(64).optional(),
  /** Copy mode: only paths matching these globs, leaving out those matching `exclude`. */
  include: z.array(z.string().min(1)).max(100).optional(),
  exclude: z.array(z.string().min(1)).max(100).optional(),
  /** Copy mode: remove from the destination what an earlier run copied and the source no longer has. */
  delete: z.boolean().optional(),
  name: z.string().min(1).max(255).optional(),
  /** A listable source: an S3 or GCS prefix, an HDFS directory, a Maven group, a YUM repo, an OCI repository. */
  source: z.string().min(3).max(4096),
  schedule: Cron,
  scope: z.enum(['single_seed_peer', 'all_seed_peers', 'all_peers']).default('all_peers'),
  ips: z.array(z.string().min(1)).max(10_000).optional(),
  count: z.number().int().min(1).optional(),
  percentage: z.number().int().min(1).max(100).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  scheduler_cluster_ids: z.array(z.string().min(1)).max(1000).optional(),
  /** Objects a listing may hold; a larger listing fails the run. */
  max_entries: z.number().int().min(1).max(1_000_000).default(100_000),
  /** Each run's preheat deadline (ms). */
  timeout: z.number().int().min(1000).optional(),
}).refine((x) => x.mode !== 'copy' || x.destination, { message: 'a copy-mode sync needs a destination', path: ['destination'] });
export type NewSync = z.infer<typeof NewSyncSchema>;
/** What a sync job keeps in `syncs.args`. */
export type SyncArgs = Omit<NewSync, 'name' | 'source' | 'schedule'>;

export const SyncRunsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});
