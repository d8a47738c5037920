import { z } from 'zod';
import { ManagerLinkConfigSchema, oneTokenSetting, someTokenSetting } from './manager-link-config.js';
import { metricsConfigSchema } from './metrics-config.js';
import { duration, size } from './unit-schemas.js';

const ms = (def: number) => duration({ min: 1, legacyNumber: true }).default(def);

/** The scheduler role's config. Durations take units (`"500ms"`, `"24h"`); a plain number is milliseconds. */
export const SchedulerConfigSchema = z.strictObject({
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    /** 0 picks a free port; the role logs and exposes the real one. */
    port: z.number().int().min(0).max(65535).default(8002),
    /**
     * The address registered with the manager, which peers dial. Default: `host`, or, when `host` is
     * 0.0.0.0 or ::, the host's first non-loopback IPv4 address.
     */
    advertiseIp: z.string().min(1).optional(),
  }).prefault({}),
  /** Prometheus `/metrics` (`d7y_scheduler_…`, see docs/metrics.md), `/healthz` and `/readyz` on its own small HTTP listener. */
  metrics: metricsConfigSchema(8000),
  /** Parents returned per scheduling round, best first. */
  candidateParentLimit: z.number().int().min(1).max(20).default(4),
  /** Peers of the task sampled per round before filtering and ranking. */
  filterParentLimit: z.number().int().min(1).max(1000).default(40),
  /** Peers of one task allowed to go back to the source at once; beyond it a peer waits for parents. */
  maxBackToSourcePeersPerTask: z.number().int().min(0).max(10_000).default(3),
  /** Scheduling rounds per peer before it goes back to the source (if allowed) or fails. */
  retryLimit: z.number().int().min(1).max(100).default(5),
  /** Pause between two rounds that found no parent (grows linearly with the round, with jitter). */
  retryInterval: ms(500),
  /** How long a seed peer may take for a triggered download. */
  seedPeerDownloadTimeout: ms(10 * 3600_000),
  gc: z.strictObject({
    interval: ms(10_000),
    /** A peer not updated for this long is removed. */
    peerTtl: ms(24 * 3600_000),
    /** A task not updated for this long is removed with its peers. */
    taskTtl: ms(24 * 3600_000),
    /** A host not announced for this long is removed with its peers. */
    hostTtl: ms(3600_000),
  }).prefault({}),
  /**
   * Persistent-cache tasks (`d7y cache import`): replicas are checked every `checkInterval`; a
   * holder without a persistent-cache announce for `holderTtl` is lost and replaced, so a lost
   * replica is back within about holderTtl + checkInterval (+ the copy); a peer asked for a replica
   * that does not hold it after `placementTimeout` is asked no more.
   */
  persistentCache: z.strictObject({
    checkInterval: ms(2_000),
    holderTtl: ms(20_000),
    placementTimeout: ms(10 * 60_000),
    maxTasks: z.number().int().min(1).default(100_000),
  }).prefault({}),
  /** Register with a manager, keep alive, apply its dynamic config and run its jobs (optional). */
  manager: ManagerLinkConfigSchema.refine(oneTokenSetting.check, oneTokenSetting.message)
    .refine(someTokenSetting.check, someTokenSetting.message).optional(),
  limits: z.strictObject({
    maxHosts: z.number().int().min(1).default(100_000),
    maxTasks: z.number().int().min(1).default(100_000),
    maxPeersPerTask: z.number().int().min(1).default(20_000),
    /** Open AnnouncePeer streams at once. */
    maxStreams: z.number().int().min(1).default(50_000),
    /** Largest gRPC message the scheduler accepts; a larger one fails with RESOURCE_EXHAUSTED. */
    maxReceiveMessageSize: size({ min: 64 * 1024, max: 256 * 1024 * 1024 }).default(16 * 1024 * 1024),
  }).prefault({}),
});

export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;
