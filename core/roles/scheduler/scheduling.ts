import type { CandidateParent, EvaluationContext, Evaluator } from '../../contracts/evaluator.js';
import { isBlockedFor, type PeerRecord, type TaskRecord } from './resource/records.js';

/** Parents remembered per child as already offered (the oldest is forgotten first). */
const MAX_OFFERED_PARENTS = 256;

export interface SchedulingOptions {
  candidateParentLimit: number;
  filterParentLimit: number;
}

/** Chooses the evaluator that ranks parents for one download (the seam for A/B arms). */
export type EvaluatorChooser = (task: TaskRecord, child: PeerRecord) => Evaluator;

/**
 * One scheduling round: sample available peers of the task, filter out the ones that cannot be
 * parents of this child (blocked for it, same host, bad per the evaluator), rank the
 * rest with the evaluator, keep the top `candidateParentLimit` and record parent → child edges.
 * A child keeps the parents of earlier rounds, so a later round offers parents it has not been
 * offered yet first (best first), then the best of the known ones: everyone gets to know
 * everyone, not only the few that rank highest.
 */
export class Scheduling {
  constructor(
    private readonly options: SchedulingOptions,
    private readonly evaluatorFor: EvaluatorChooser,
    private readonly random: () => number = Math.random,
  ) {}

  /** The parents for `child`, best first; empty when none fits (the child's old edges are dropped). */
  findParents(task: TaskRecord, child: PeerRecord): PeerRecord[] {
    task.graph.deleteInEdges(child.id);
    const evaluator = this.evaluatorFor(task, child);
    const ctx: EvaluationContext = {
      taskId: task.id, totalPieceCount: task.pieceCount, child: { peerId: child.id, host: child.host },
    };
    const byId = new Map<string, PeerRecord>();
    const candidates: CandidateParent[] = [];
    for (const p of task.available.sample(this.options.filterParentLimit, this.random)) {
      if (p.id === child.id || isBlockedFor(child, p) || p.host.id === child.host.id) continue;
      const c: CandidateParent = {
        peerId: p.id, host: p.host, finishedPieceCount: p.finishedPieces.size, pieceCostsMs: p.pieceCostsMs,
      };
      if (evaluator.isBadParent(c, ctx)) continue;
      byId.set(p.id, p);
      candidates.push(c);
    }
    const all = evaluator.rank(candidates, ctx).flatMap((c) => byId.get(c.peerId) ?? []);
    const ranked = [...all.filter((p) => !child.offeredParents.has(p.id)), ...all.filter((p) => child.offeredParents.has(p.id))]
      .slice(0, this.options.candidateParentLimit);
    for (const p of ranked) rememberOffer(child, p.id);
    task.graph.addEdges(ranked.map((p) => p.id), child.id);
    return ranked;
  }

  /**
   * The parents just offered to `child` that should hear of the child in turn, as BitTorrent
   * connections go both ways: normal peers still downloading, not yet offered this child, not on
   * its host and not blocking it. Records the offers and the child → parent edges. Without
   * this, a peer that ranks low is offered to nobody and the pieces only it holds never spread.
   */
  introductions(task: TaskRecord, child: PeerRecord, parents: readonly PeerRecord[]): PeerRecord[] {
    if (child.host.type === 'super' || task.trust.blockedHosts.has(child.host.id)) return [];
    const out: PeerRecord[] = [];
    for (const p of parents) {
      if (p.host.type === 'super' || p.host.id === child.host.id || !p.channel) continue;
      if (!['received-normal', 'running'].includes(p.state) || p.offeredParents.has(child.id) || isBlockedFor(p, child)) continue;
      rememberOffer(p, child.id);
      task.graph.addEdges([child.id], p.id);
      out.push(p);
    }
    return out;
  }
}

/** Records that `parentId` was offered to `peer`, forgetting the oldest beyond MAX_OFFERED_PARENTS. */
function rememberOffer(peer: PeerRecord, parentId: string): void {
  if (peer.offeredParents.size >= MAX_OFFERED_PARENTS) peer.offeredParents.delete(peer.offeredParents.values().next().value!);
  peer.offeredParents.add(parentId);
}
