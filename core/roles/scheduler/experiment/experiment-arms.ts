import { createHash } from 'node:crypto';
import type { ExperimentConfig, ExperimentVariant } from '../scheduling-policy.js';

/** Buckets a key falls into: weights are resolved to 1/10,000. */
export const EXPERIMENT_BUCKETS = 10_000;

/**
 * Assigns downloads to the arms of one experiment. The arm of a key is a pure function of the
 * experiment id and the key (sha256, first 32 bits, modulo 10,000 buckets laid out by the variant
 * weights in their listed order), so every scheduler, before and after a restart or a failover,
 * puts a download in the same arm, and a bucket never changes mid-download.
 */
export class ExperimentArms {
  private readonly bounds: { upTo: number; variant: ExperimentVariant }[] = [];

  constructor(readonly config: ExperimentConfig) {
    let acc = 0;
    for (const v of config.variants) {
      acc += v.weight;
      this.bounds.push({ upTo: Math.round((acc / 100) * EXPERIMENT_BUCKETS), variant: v });
    }
    this.bounds[this.bounds.length - 1]!.upTo = EXPERIMENT_BUCKETS;
  }

  /** The bucketing key of a download: its task id or its host id, as the experiment says. */
  keyOf(taskId: string, hostId: string): string {
    return this.config.bucketBy === 'host' ? hostId : taskId;
  }

  /** The bucket of a key, in [0, 10,000). */
  bucketOf(key: string): number {
    return createHash('sha256').update(`${this.config.id}\0${key}`).digest().readUInt32BE(0) % EXPERIMENT_BUCKETS;
  }

  /** The arm of a download. */
  armFor(taskId: string, hostId: string): ExperimentVariant {
    return this.config.variants[this.armIndexFor(taskId, hostId)]!;
  }

  /** The position of the download's arm among the experiment's variants. */
  armIndexFor(taskId: string, hostId: string): number {
    const bucket = this.bucketOf(this.keyOf(taskId, hostId));
    return this.bounds.findIndex((b) => bucket < b.upTo);
  }
}
