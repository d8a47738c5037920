import { z } from 'zod';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'is not 64 lower-case hex characters');

/** A host holding a copy, as a scheduler reports it. */
export const ReportedCachePeerSchema = z.object({
  host_id: z.string().min(1).max(512),
  hostname: z.string().max(255),
  ip: z.string().max(64),
  /** The peer's gRPC port. */
  port: z.number().int().min(0).max(65535),
  /** The peer's piece (Vortex) port. */
  download_port: z.number().int().min(0).max(65535),
  type: z.enum(['normal', 'super']),
  /** A replica kept until the TTL; false for a copy an export left. */
  persistent: z.boolean(),
  /** When the scheduler first saw the copy (ms since the epoch). */
  since: z.number().int().min(0),
});

/** A persistent-cache task as a scheduler reports it to the manager. Times in ms since the epoch. */
export const ReportedCacheTaskSchema = z.object({
  id: hex64,
  name: z.string().max(256),
  tag: z.string().max(1024),
  application: z.string().max(1024),
  piece_length: z.number().int().min(0),
  content_length: z.number().int().min(0),
  piece_count: z.number().int().min(0),
  digest: z.string().max(256),
  state: z.string().max(32),
  persistent_replica_count: z.number().int().min(0),
  ttl_ms: z.number().int().min(0),
  created_at: z.number().int().min(0),
  updated_at: z.number().int().min(0),
  peers: z.array(ReportedCachePeerSchema).max(1000),
});

export type ReportedCacheTask = z.infer<typeof ReportedCacheTaskSchema>;
export type ReportedCachePeer = z.infer<typeof ReportedCachePeerSchema>;

/** Tasks one report carries at most (the newest, when a scheduler holds more). */
export const MAX_REPORTED_TASKS = 1000;

/**
 * A scheduler's report: its tasks (all of them, replacing what it reported before), or none when
 * nothing changed since its last report (the answer still names the deletes to carry out).
 */
export const CacheReportSchema = z.strictObject({
  tasks: z.array(ReportedCacheTaskSchema).max(MAX_REPORTED_TASKS).optional(),
});

export const CacheTaskListQuerySchema = z.object({
  scheduler_cluster_id: z.string().max(64).optional(),
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(1000).default(50),
});

export type CacheTaskListQuery = z.infer<typeof CacheTaskListQuerySchema>;
