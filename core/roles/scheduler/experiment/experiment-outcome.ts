/** One finished (or failed) download of an experiment, as recorded by the scheduler. */
export interface ExperimentOutcome {
  experimentId: string;
  /** Variant name, and the evaluator it names. */
  arm: string;
  /** The variant's position in the experiment's config; the report lists arms in this order (0 = control). */
  armIndex: number;
  evaluator: string;
  /** The bucketing key's value (the task id or the host id): the unit the arms were assigned by. */
  bucket: string;
  taskId: string;
  hostId: string;
  peerId: string;
  succeeded: boolean;
  /** ISO time the scheduler recorded the outcome. */
  recordedAt: string;
  durationMs: number;
  contentLength: number;
  /** contentLength / duration; 0 for a failed download. */
  bytesPerSecond: number;
  peerBytes: number;
  sourceBytes: number;
  /** peerBytes / (peerBytes + sourceBytes); 0 when nothing was received. */
  peerShare: number;
  pieceFailures: number;
  reschedules: number;
  backToSource: boolean;
  schedulerFailovers: number;
  /** `peer` when the peer sent its stats, `scheduler` when they were reconstructed from its reports. */
  measuredBy: 'peer' | 'scheduler';
}
