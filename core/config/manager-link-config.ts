import { z } from 'zod';

/** How a scheduler or peer reaches the manager (optional: without it, static config applies). */
export const ManagerLinkConfigSchema = z.strictObject({
  /** `http://host:port` of a manager (any replica). */
  url: z.string().regex(/^https?:\/\//, 'expected http(s)://host:port'),
  /** Personal access token with scopes `cluster` (and `job` for schedulers). */
  token: z.string().min(1),
  /** Scheduler cluster (schedulers) or seed-peer cluster (seed peers) to register in; created when new. */
  cluster: z.string().default('default'),
  /** Keepalive (and dynamic config refresh) period, ms. */
  keepaliveIntervalMs: z.number().int().min(100).default(5_000),
  /** How often a scheduler asks for its cluster's jobs, ms. */
  jobPollIntervalMs: z.number().int().min(100).default(1_000),
});

export type ManagerLinkConfig = z.infer<typeof ManagerLinkConfigSchema>;
