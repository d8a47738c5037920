import { byScoreThenPeerId, idcAffinity, isBadParentByCosts, locationAffinity } from '../../core/index.js';
import type { CandidateParent, EvaluationContext, Evaluator, HostProfile } from '../../core/index.js';

/** The weights of Dragonfly ≤ v2.3's evaluator; they sum to 1. */
export const LEGACY_WEIGHTS = {
  finishedPieces: 0.2,
  uploadSuccess: 0.2,
  freeUploadSlots: 0.15,
  hostType: 0.15,
  idc: 0.15,
  location: 0.15,
} as const;

/** The parts of a legacy score, each in [0, 1], and their weighted sum. */
export interface LegacyScoreParts {
  finishedPieces: number;
  uploadSuccess: number;
  freeUploadSlots: number;
  hostType: number;
  idc: number;
  location: number;
  total: number;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Share of uploads that succeeded; 1 for a host that has not uploaded yet, 0 when failures outnumber uploads. */
export function uploadSuccessRate(h: HostProfile): number {
  const total = h.uploadSuccessCount + h.uploadFailedCount;
  if (total === 0) return 1;
  return clamp01(h.uploadSuccessCount / total);
}

/**
 * Dragonfly ≤ v2.3's evaluator: `0.2·finished pieces + 0.2·upload success rate + 0.15·free upload
 * slots + 0.15·host type + 0.15·IDC affinity + 0.15·location affinity`.
 *
 * - Finished pieces: the parent's finished piece count over the task's piece count (0 when unknown).
 * - Free upload slots: `1 − concurrentUploads / uploadLimit` (0 without a limit).
 * - Host type: a seed (super) host scores 1, a normal host 0.5.
 *
 * It ignores bandwidth, which is what the load-aware `default` evaluator added. Pure and
 * synchronous; ties are broken by peer id. Bad parents by the shared piece-cost rule.
 */
export class LegacyEvaluator implements Evaluator {
  readonly name = 'legacy';

  rank(candidates: readonly CandidateParent[], ctx: EvaluationContext): CandidateParent[] {
    return candidates
      .map((c) => ({ c, peerId: c.peerId, score: this.score(c, ctx).total }))
      .sort(byScoreThenPeerId)
      .map((s) => s.c);
  }

  score(candidate: CandidateParent, ctx: EvaluationContext): LegacyScoreParts {
    const h = candidate.host;
    const finishedPieces = ctx.totalPieceCount > 0 ? clamp01(candidate.finishedPieceCount / ctx.totalPieceCount) : 0;
    const uploadSuccess = uploadSuccessRate(h);
    const freeUploadSlots = h.uploadLimit > 0 ? clamp01(1 - h.concurrentUploads / h.uploadLimit) : 0;
    const hostType = h.type === 'super' ? 1 : 0.5;
    const idc = idcAffinity(h.idc, ctx.child.host.idc);
    const location = locationAffinity(h.location, ctx.child.host.location);
    const w = LEGACY_WEIGHTS;
    const total = w.finishedPieces * finishedPieces + w.uploadSuccess * uploadSuccess + w.freeUploadSlots * freeUploadSlots
      + w.hostType * hostType + w.idc * idc + w.location * location;
    return { finishedPieces, uploadSuccess, freeUploadSlots, hostType, idc, location, total };
  }

  isBadParent(candidate: CandidateParent, _ctx: EvaluationContext): boolean {
    return isBadParentByCosts(candidate.pieceCostsMs);
  }
}
