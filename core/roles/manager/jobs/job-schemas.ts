import { z } from 'zod';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH } from '../../../task/piece-length.js';

export const PREHEAT_SCOPES = ['single_seed_peer', 'all_seed_peers', 'all_peers'] as const;
export type PreheatScope = (typeof PREHEAT_SCOPES)[number];

const url = z.string().min(1).max(4096).regex(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, 'expected a URL with a scheme');
const taskSelector = {
  task_id: z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-hex task id').optional(),
  url: url.optional(),
  tag: z.string().max(255).default(''),
  application: z.string().max(255).default(''),
  piece_length: z.number().int().min(MIN_PIECE_LENGTH).max(MAX_PIECE_LENGTH).optional(),
  filtered_query_params: z.string().max(1024).optional(),
};

export const PreheatArgsSchema = z.strictObject({
  type: z.enum(['file', 'image']).default('file'),
  /** One file, or the image's manifest URL (`oci://…`, or `https://<registry>/v2/<repo>/manifests/<ref>`). */
  url: url.optional(),
  /** Several files (type file only). */
  urls: z.array(url).max(1000).optional(),
  piece_length: z.number().int().min(MIN_PIECE_LENGTH).max(MAX_PIECE_LENGTH).optional(),
  tag: z.string().max(255).default(''),
  application: z.string().max(255).default(''),
  /** `&`-separated query keys left out of the task id. */
  filtered_query_params: z.string().max(1024).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  platform: z.string().max(64).optional(),
  scope: z.enum(PREHEAT_SCOPES).default('single_seed_peer'),
  ips: z.array(z.string().max(64)).min(1).max(100).optional(),
  count: z.number().int().min(1).max(200).optional(),
  percentage: z.number().int().min(1).max(100).optional(),
  /** Put the pieces in the `memory` storage medium of the chosen peers. */
  load_to_memory: z.boolean().default(false),
  concurrent_task_count: z.number().int().min(1).max(100).default(8),
  concurrent_peer_count: z.number().int().min(1).max(1000).default(500),
  /** Milliseconds the job may take. */
  timeout: z.number().int().min(1000).max(24 * 3600_000).optional(),
}).refine((a) => Boolean(a.url) !== Boolean(a.urls?.length), { message: 'give exactly one of url and urls', path: ['url'] })
  .refine((a) => a.type === 'file' || !a.urls, { message: 'an image preheat takes its manifest as url, not urls', path: ['urls'] });

export const TaskArgsSchema = z.strictObject({ ...taskSelector, timeout: z.number().int().min(1000).max(24 * 3600_000).optional() })
  .refine((a) => Boolean(a.task_id) !== Boolean(a.url), { message: 'give exactly one of task_id and url', path: ['task_id'] });

const clusterIds = z.array(z.string().max(64)).max(100).optional();

export const NewJobSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('preheat'), args: PreheatArgsSchema, scheduler_cluster_ids: clusterIds, bio: z.string().max(1024).optional() }),
  z.strictObject({ type: z.literal('get_task'), args: TaskArgsSchema, scheduler_cluster_ids: clusterIds, bio: z.string().max(1024).optional() }),
  z.strictObject({ type: z.literal('delete_task'), args: TaskArgsSchema, scheduler_cluster_ids: clusterIds, bio: z.string().max(1024).optional() }),
]);
export type NewJob = z.infer<typeof NewJobSchema>;
export type PreheatArgs = z.infer<typeof PreheatArgsSchema>;
export type TaskArgs = z.infer<typeof TaskArgsSchema>;

/** What one peer did for a job: preheated, holds the task (get_task), deleted it. */
export const PeerResultSchema = z.strictObject({
  host_id: z.string().max(512),
  ip: z.string().max(64),
  hostname: z.string().max(255),
  url: z.string().max(4096).optional(),
  task_id: z.string().max(64).optional(),
  state: z.enum(['succeeded', 'failed']),
  /** get_task: bytes held and pieces held. */
  content_length: z.number().int().min(0).optional(),
  piece_count: z.number().int().min(0).optional(),
  error: z.string().max(2048).optional(),
});
export type PeerResult = z.infer<typeof PeerResultSchema>;

export const JobResultSchema = z.strictObject({
  scheduler_id: z.string().max(64),
  state: z.enum(['running', 'succeeded', 'failed']),
  results: z.array(PeerResultSchema).max(100_000).default([]),
  error: z.string().max(4096).optional(),
});

export const JobListQuerySchema = z.strictObject({
  type: z.enum(['preheat', 'get_task', 'delete_task']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});
