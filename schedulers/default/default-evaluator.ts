import { idcAffinity, isBadParentByCosts, locationAffinity } from '../../core/index.js';
import type { CandidateParent, EvaluationContext, Evaluator, HostProfile } from '../../core/index.js';

export { BAD_COST_MULTIPLE, NORMAL_DISTRIBUTION_SAMPLES, idcAffinity, locationAffinity } from '../../core/index.js';

/** The parts of a score, each in [0, 1]. */
export interface ScoreParts {
  peakHeadroom: number;
  bandwidth60s: number;
  concurrency: number;
  loadQuality: number;
  idc: number;
  location: number;
  hostType: number;
  total: number;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function headroomBps(h: HostProfile): number {
  return Math.max(0, h.maxUploadBps - h.uploadBpsLast60s);
}

/**
 * Dragonfly's load-aware evaluator:
 * `0.6·load + 0.2·IDC affinity + 0.1·location affinity + 0.1·host type`, with
 * `load = 0.5·peak headroom + 0.3·(1 − bandwidth over the last 60 s / peak) + 0.2·free concurrency`.
 *
 * - Peak headroom is the parent's unused peak upload bandwidth (`maxUploadBps − uploadBpsLast60s`)
 *   relative to the largest among the candidates of the round, so an idle 10 Gbit/s host beats an
 *   idle 100 Mbit/s one. A host that reports no peak scores 0 on both bandwidth terms.
 * - Free concurrency is `1 − concurrentUploads / uploadLimit` (0 without a limit).
 * - Host type: a seed (super) host scores 1, a normal host 0.5. The 0.05 difference is smaller
 *   than the load terms, so a seed is preferred only among parents about as loaded as it — which
 *   only matters once normal peers hold the pieces too (before that the seed is the only parent).
 *
 * Pure and synchronous; ties are broken by peer id, so the same inputs give the same ranking.
 * A parent is bad when its last piece cost more than 20× the mean of its earlier ones, or, once
 * 2,000 samples are in, more than mean + 3σ of the earlier ones.
 */
export class DefaultEvaluator implements Evaluator {
  readonly name = 'default';

  rank(candidates: readonly CandidateParent[], ctx: EvaluationContext): CandidateParent[] {
    const maxHeadroom = candidates.reduce((m, c) => Math.max(m, headroomBps(c.host)), 0);
    return candidates
      .map((c) => ({ c, score: this.score(c, ctx, maxHeadroom).total }))
      .sort((a, b) => b.score - a.score || (a.c.peerId < b.c.peerId ? -1 : a.c.peerId > b.c.peerId ? 1 : 0))
      .map((s) => s.c);
  }

  /** The score of one candidate; `maxHeadroomBps` is the largest headroom among the round's candidates. */
  score(candidate: CandidateParent, ctx: EvaluationContext, maxHeadroomBps: number): ScoreParts {
    const h = candidate.host;
    const peakHeadroom = maxHeadroomBps > 0 && h.maxUploadBps > 0 ? clamp01(headroomBps(h) / maxHeadroomBps) : 0;
    const bandwidth60s = h.maxUploadBps > 0 ? clamp01(1 - h.uploadBpsLast60s / h.maxUploadBps) : 0;
    const concurrency = h.uploadLimit > 0 ? clamp01(1 - h.concurrentUploads / h.uploadLimit) : 0;
    const loadQuality = 0.5 * peakHeadroom + 0.3 * bandwidth60s + 0.2 * concurrency;
    const idc = idcAffinity(h.idc, ctx.child.host.idc);
    const location = locationAffinity(h.location, ctx.child.host.location);
    const hostType = h.type === 'super' ? 1 : 0.5;
    const total = 0.6 * loadQuality + 0.2 * idc + 0.1 * location + 0.1 * hostType;
    return { peakHeadroom, bandwidth60s, concurrency, loadQuality, idc, location, hostType, total };
  }

  isBadParent(candidate: CandidateParent, _ctx: EvaluationContext): boolean {
    return isBadParentByCosts(candidate.pieceCostsMs);
  }
}
