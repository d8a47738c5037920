import { z } from 'zod';
import { duration, unitObject } from './unit-schemas.js';

/** How a scheduler or peer reaches the manager (optional: without it, static config applies). */
export const ManagerLinkConfigSchema = unitObject({
  /** `http://host:port` of a manager (any replica). */
  url: z.string().regex(/^https?:\/\//, 'expected http(s)://host:port'),
  /** Personal access token with scopes `cluster` (and `job` for schedulers). */
  token: z.string().min(1),
  /** Scheduler cluster (schedulers) or seed-peer cluster (seed peers) to register in; created when new. */
  cluster: z.string().default('default'),
  /** Keepalive (and dynamic config refresh) period. */
  keepaliveInterval: duration({ min: 100, legacy: 'keepaliveIntervalMs', default: 5_000 }),
  /** How often a scheduler asks for its cluster's jobs. */
  jobPollInterval: duration({ min: 100, legacy: 'jobPollIntervalMs', default: 1_000 }),
  /**
   * How often a scheduler reports its persistent-cache tasks to the manager (sent whole when they
   * changed, else a short call) and learns the deletes asked there.
   */
  persistentCacheReportInterval: duration({ min: 100, legacyNumber: true }).default(2_000),
});

export type ManagerLinkConfig = z.infer<typeof ManagerLinkConfigSchema>;
