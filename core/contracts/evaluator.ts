/** What the scheduler knows of a host, as an evaluator sees it. */
export interface HostProfile {
  id: string;
  ip: string;
  hostname: string;
  /** `super` hosts are seed peers. */
  type: 'normal' | 'super';
  idc?: string;
  /** `|`-separated, most general first: `country|region|zone`. */
  location?: string;
  /** Peak upload bandwidth in bytes per second (0 when unknown). */
  maxUploadBps: number;
  /** Upload bandwidth over the last 60 s, bytes per second. */
  uploadBpsLast60s: number;
  /** Uploads in progress, and the limit of concurrent uploads. */
  concurrentUploads: number;
  uploadLimit: number;
  uploadSuccessCount: number;
  uploadFailedCount: number;
}

/** A peer that may become a parent of the child. */
export interface CandidateParent {
  peerId: string;
  host: HostProfile;
  finishedPieceCount: number;
  /** Costs in milliseconds of the pieces this parent served, oldest first (bounded window). */
  pieceCostsMs: readonly number[];
}

export interface EvaluationContext {
  taskId: string;
  totalPieceCount: number;
  child: { peerId: string; host: HostProfile };
}

/**
 * A scheduling policy. Pure and synchronous: the same inputs give the same ranking,
 * so experiments are reproducible. `rank` returns a new array, best parent first, and never
 * adds candidates.
 */
export interface Evaluator {
  readonly name: string;
  rank(candidates: readonly CandidateParent[], ctx: EvaluationContext): CandidateParent[];
  isBadParent(candidate: CandidateParent, ctx: EvaluationContext): boolean;
}
