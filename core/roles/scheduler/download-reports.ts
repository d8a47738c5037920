import type { DownloadReport } from '../manager/downloads/download-report-schema.js';
import type { ExperimentOutcome } from './experiment/experiment-outcome.js';
import type { DownloadEnd } from './experiment/experiment-recorder.js';
import type { PeerRecord, TaskRecord } from './resource/records.js';

/** Reports sent to the manager in one call at most. */
export const DOWNLOAD_BATCH = 1000;

/**
 * Ended downloads waiting to be sent to the manager, oldest first. Bounded: past `maxQueued`
 * the newest are dropped and counted in `dropped`, so a manager that is down costs no memory.
 */
export class DownloadReports {
  private queue: DownloadReport[] = [];
  dropped = 0;

  constructor(private readonly maxQueued = 20_000, private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.queue.length;
  }

  /** Queues the report of one ended download (and its experiment arm, when it ran under one). */
  add(task: TaskRecord, peer: PeerRecord, end: DownloadEnd, outcome?: ExperimentOutcome): void {
    if (this.queue.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    const s = end.stats;
    const contentLength = end.contentLength || task.contentLength || 0;
    const backToSource = s ? s.backToSource : end.wasBackToSource;
    this.queue.push({
      task_id: task.id, url: task.download.url, host_id: peer.host.id, hostname: peer.host.hostname, ip: peer.host.ip,
      seed: peer.host.type === 'super', succeeded: end.succeeded,
      duration_ms: Math.round(s && s.durationMs > 0 ? s.durationMs : Math.max(1, this.now() - peer.createdAt)),
      content_length: contentLength,
      peer_bytes: s?.peerBytes ?? (end.succeeded && !backToSource ? contentLength : 0),
      source_bytes: s?.sourceBytes ?? (end.succeeded && backToSource ? contentLength : 0),
      back_to_source: backToSource, back_to_source_reason: backToSource ? peer.backToSourceReason ?? 'peer_decided' : undefined, piece_failures: s?.pieceFailures ?? 0, reschedules: s?.reschedules ?? 0,
      ended_at: new Date(this.now()).toISOString(),
      ...(outcome && { experiment: { id: outcome.experimentId, arm: outcome.arm, arm_index: outcome.armIndex, evaluator: outcome.evaluator, bucket: outcome.bucket } }),
    });
  }

  /** Takes up to DOWNLOAD_BATCH reports; `putBack` returns them when sending failed. */
  take(): DownloadReport[] {
    return this.queue.splice(0, DOWNLOAD_BATCH);
  }

  putBack(batch: DownloadReport[]): void {
    const room = Math.max(0, this.maxQueued - this.queue.length);
    this.dropped += Math.max(0, batch.length - room);
    this.queue.unshift(...batch.slice(0, room));
  }
}
