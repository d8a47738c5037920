import { byScoreThenPeerId, idcAffinity, isBadParentByCosts, locationAffinity } from '../../core/index.js';
import type { CandidateParent, EvaluationContext, Evaluator, HostProfile } from '../../core/index.js';

/** Recent piece costs a parent's observed speed is taken from. */
export const OBSERVED_WINDOW = 8;
/** A parent with spare bandwidth below this share of its peak is still given this much. */
const MIN_HEADROOM_SHARE = 0.05;
/** The speed of a parent that reports no bandwidth and has served nothing yet. */
const UNKNOWN_SPEED = 0.25;

/** The parts of a throughput score. */
export interface ThroughputScoreParts {
  /** Expected bytes/s one more download gets from the parent (0 when the host reports no peak). */
  perSlotBps: number;
  /** perSlotBps relative to the best of the round, in [0, 1]. */
  bandwidth: number;
  /** Fastest median piece cost of the round over this parent's, in (0, 1]; undefined without samples. */
  observed?: number;
  /** Same IDC 1, else the location affinity, in [0, 1]. */
  locality: number;
  /** Smoothed share of successful uploads, in (0, 1). */
  reliability: number;
  /** `0.25 + 0.75 · finished pieces / task pieces`: a parent holding little can serve little yet. */
  availability: number;
  total: number;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function perSlotBps(h: HostProfile): number {
  if (h.maxUploadBps <= 0) return 0;
  const headroom = Math.max(h.maxUploadBps - h.uploadBpsLast60s, MIN_HEADROOM_SHARE * h.maxUploadBps);
  return headroom / (Math.max(0, h.concurrentUploads) + 1);
}

function medianRecentCost(costs: readonly number[]): number | undefined {
  const recent = costs.slice(-OBSERVED_WINDOW).filter((c) => c > 0).sort((a, b) => a - b);
  if (recent.length === 0) return undefined;
  const m = recent.length >> 1;
  return recent.length % 2 ? recent[m]! : (recent[m - 1]! + recent[m]!) / 2;
}

/**
 * `throughput`: ranks parents by the piece rate the child can expect from them, scaled by locality.
 *
 * `total = speed · (0.6 + 0.4·locality) · reliability · availability`, where
 * - `speed` is the parent's spare upload bandwidth shared among the uploads it already serves
 *   (`max(peak − last 60 s, 5 % of peak) / (concurrent uploads + 1)`) relative to the best of the
 *   round, averaged with its observed speed (fastest median of the last 8 piece costs in the round
 *   over its own) once it has served pieces;
 * - `locality` is 1 in the child's IDC, else the location affinity (shared leading elements / 5);
 * - `reliability` is the upload success rate with one success and one failure added (Laplace);
 * - `availability` is `0.25 + 0.75 · finished pieces / task pieces` (1 while the piece count is
 *   unknown): a parent that holds little can feed the child little yet.
 *
 * Why it beats `default` where hosts differ in bandwidth or locality: `default` adds its terms, so
 * a busy 10 Gbit/s host with 50 uploads still looks "fast" (its unused peak is large), and a
 * same-IDC bonus of 0.2 can outweigh a tenfold bandwidth gap or be outweighed by a small one. Here
 * the rate is divided among the uploads the parent already serves, what parents actually delivered
 * counts as much as what they announce, and locality multiplies the rate (a remote parent must be
 * about 1.7× faster to win), so a child lands on the parent that will feed it fastest. A host that
 * reports no bandwidth scores only on observed speed. Pure and synchronous; ties by peer id. Bad
 * parents by the shared piece-cost rule.
 */
export class ThroughputEvaluator implements Evaluator {
  readonly name = 'throughput';

  rank(candidates: readonly CandidateParent[], ctx: EvaluationContext): CandidateParent[] {
    const round = this.roundStats(candidates);
    return candidates
      .map((c) => ({ c, peerId: c.peerId, score: this.score(c, ctx, round).total }))
      .sort(byScoreThenPeerId)
      .map((s) => s.c);
  }

  /** The best per-slot bandwidth and the fastest median piece cost among a round's candidates. */
  roundStats(candidates: readonly CandidateParent[]): { bestBps: number; bestCostMs?: number } {
    let bestBps = 0;
    let bestCostMs: number | undefined;
    for (const c of candidates) {
      bestBps = Math.max(bestBps, perSlotBps(c.host));
      const m = medianRecentCost(c.pieceCostsMs);
      if (m !== undefined && (bestCostMs === undefined || m < bestCostMs)) bestCostMs = m;
    }
    return { bestBps, bestCostMs };
  }

  score(candidate: CandidateParent, ctx: EvaluationContext, round: { bestBps: number; bestCostMs?: number }): ThroughputScoreParts {
    const h = candidate.host;
    const bps = perSlotBps(h);
    const bandwidth = round.bestBps > 0 ? clamp01(bps / round.bestBps) : 0;
    const median = medianRecentCost(candidate.pieceCostsMs);
    const observed = median !== undefined && round.bestCostMs !== undefined ? clamp01(round.bestCostMs / median) : undefined;
    let speed: number;
    if (observed === undefined) speed = bps > 0 ? bandwidth : UNKNOWN_SPEED;
    else speed = bps > 0 ? 0.5 * bandwidth + 0.5 * observed : observed;
    const locality = Math.max(idcAffinity(h.idc, ctx.child.host.idc), locationAffinity(h.location, ctx.child.host.location));
    const reliability = (h.uploadSuccessCount + 1) / (h.uploadSuccessCount + h.uploadFailedCount + 2);
    const availability = ctx.totalPieceCount > 0 ? 0.25 + 0.75 * clamp01(candidate.finishedPieceCount / ctx.totalPieceCount) : 1;
    const total = speed * (0.6 + 0.4 * locality) * reliability * availability;
    return { perSlotBps: bps, bandwidth, observed, locality, reliability, availability, total };
  }

  isBadParent(candidate: CandidateParent, _ctx: EvaluationContext): boolean {
    return isBadParentByCosts(candidate.pieceCostsMs);
  }
}
