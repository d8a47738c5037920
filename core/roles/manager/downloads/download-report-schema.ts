import { z } from 'zod';

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** One ended download as a scheduler reports it to the manager (`POST /oapi/v1/schedulers/:id/downloads`). */
export const DownloadReportSchema = z.strictObject({
  task_id: z.string().max(64),
  /** The task's URL; the manager keeps it without its query. */
  url: z.string().max(4096).default(''),
  host_id: z.string().max(255),
  hostname: z.string().max(255).default(''),
  ip: z.string().max(64).default(''),
  seed: z.boolean().default(false),
  succeeded: z.boolean(),
  duration_ms: count,
  content_length: count,
  peer_bytes: count,
  source_bytes: count,
  back_to_source: z.boolean(),
  /** Why it went to the origin: the scheduler's reason (seed_peer, requested, no_parent, rounds_exhausted) or the peer's (d7y_peer_back_to_source_total's reasons). */
  back_to_source_reason: z.string().regex(/^[a-z_]{1,32}$/).optional(),
  piece_failures: count.default(0),
  reschedules: count.default(0),
  /** ISO time the download ended. */
  ended_at: z.iso.datetime(),
  experiment: z.strictObject({
    id: z.string().min(1).max(255),
    arm: z.string().max(255),
    arm_index: z.number().int().min(0).max(100),
    evaluator: z.string().max(255),
    bucket: z.string().max(512),
  }).optional(),
});
export type DownloadReport = z.infer<typeof DownloadReportSchema>;

export const DownloadBatchSchema = z.strictObject({ downloads: z.array(DownloadReportSchema).max(1000) });

/** The dashboard's window: how far back and in how many buckets. */
export const DashboardQuerySchema = z.strictObject({
  /** Milliseconds back from now (default one hour, at most 30 days). */
  window: z.coerce.number().int().min(60_000).max(30 * 24 * 3600_000).default(3600_000),
  buckets: z.coerce.number().int().min(1).max(200).default(30),
});
