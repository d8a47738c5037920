import type { Logger } from '../../../logging/logger.js';
import type { DownloadStats } from '../../../protocol/rpc/gen/scheduler.js';
import type { PeerRecord, TaskRecord } from '../resource/records.js';
import type { ExperimentConfig } from '../scheduling-policy.js';
import { ExperimentArms } from './experiment-arms.js';
import type { ExperimentOutcome } from './experiment-outcome.js';
import type { ExperimentOutcomeStore } from './experiment-outcome-store.js';

/** How a download ended, as the scheduler learns it from the peer's last report. */
export interface DownloadEnd {
  succeeded: boolean;
  contentLength: number;
  /** The peer's own measurements; absent from peers that do not send them. */
  stats?: DownloadStats;
  /** The peer was in back-to-source state when it ended. */
  wasBackToSource: boolean;
}

/**
 * The scheduler's side of one A/B experiment: the evaluator of each download (by its arm) and
 * one outcome per ended download, appended to the store. Outcome writes never block scheduling;
 * a failed write is logged.
 */
export class ExperimentRecorder {
  readonly arms: ExperimentArms;

  constructor(
    config: ExperimentConfig,
    private readonly store: ExperimentOutcomeStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.arms = new ExperimentArms(config);
  }

  get id(): string {
    return this.arms.config.id;
  }

  /** The evaluator name for a download of `taskId` by a peer on `hostId`. */
  evaluatorFor(taskId: string, hostId: string): string {
    return this.arms.armFor(taskId, hostId).evaluator;
  }

  /**
   * Builds and stores the outcome of one ended download; returns it. Seed peers' downloads are
   * not recorded: they go to the origin whatever the evaluator.
   */
  record(task: TaskRecord, peer: PeerRecord, end: DownloadEnd): ExperimentOutcome | undefined {
    if (peer.host.type === 'super') return undefined;
    const armIndex = this.arms.armIndexFor(task.id, peer.host.id);
    const arm = this.arms.config.variants[armIndex]!;
    const s = end.stats;
    const durationMs = s && s.durationMs > 0 ? s.durationMs : Math.max(1, this.now() - peer.createdAt);
    const contentLength = end.contentLength || task.contentLength || 0;
    const peerBytes = s?.peerBytes ?? 0;
    const sourceBytes = s?.sourceBytes ?? 0;
    const received = peerBytes + sourceBytes;
    const outcome: ExperimentOutcome = {
      experimentId: this.id,
      arm: arm.name,
      armIndex,
      evaluator: arm.evaluator,
      bucket: this.arms.keyOf(task.id, peer.host.id),
      taskId: task.id,
      hostId: peer.host.id,
      peerId: peer.id,
      succeeded: end.succeeded,
      recordedAt: new Date(this.now()).toISOString(),
      durationMs,
      contentLength,
      bytesPerSecond: end.succeeded && durationMs > 0 ? (contentLength * 1000) / durationMs : 0,
      peerBytes,
      sourceBytes,
      peerShare: received > 0 ? peerBytes / received : 0,
      pieceFailures: s?.pieceFailures ?? 0,
      reschedules: s?.reschedules ?? 0,
      backToSource: s ? s.backToSource : end.wasBackToSource,
      schedulerFailovers: s?.schedulerFailovers ?? 0,
      measuredBy: s ? 'peer' : 'scheduler',
    };
    this.store.append(outcome).catch((err: unknown) => {
      this.logger.warn({ experiment: this.id, err: (err as Error).message }, 'experiment outcome not recorded');
    });
    return outcome;
  }

  flush(): Promise<void> {
    return this.store.flush();
  }
}
