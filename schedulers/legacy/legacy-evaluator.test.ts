import test from 'ava';
import type { CandidateParent, EvaluationContext, HostProfile } from '../../core/index.js';
import { LegacyEvaluator, LEGACY_WEIGHTS } from './legacy-evaluator.js';

function host(over: Partial<HostProfile>): HostProfile {
  return {
    id: 'h', ip: '127.0.0.1', hostname: 'h', type: 'normal', maxUploadBps: 0, uploadBpsLast60s: 0,
    concurrentUploads: 0, uploadLimit: 0, uploadSuccessCount: 0, uploadFailedCount: 0, ...over,
  };
}
const ctx: EvaluationContext = {
  taskId: 't', totalPieceCount: 10, child: { peerId: 'child', host: host({ id: 'child', idc: 'hz', location: 'cn|zj|hz' }) },
};
const cand = (peerId: string, finished: number, h: Partial<HostProfile>): CandidateParent =>
  ({ peerId, host: host({ id: `host-${peerId}`, ...h }), finishedPieceCount: finished, pieceCostsMs: [] });

test('weights are those of Dragonfly ≤ v2.3 and sum to 1', (t) => {
  t.deepEqual(LEGACY_WEIGHTS, { finishedPieces: 0.2, uploadSuccess: 0.2, freeUploadSlots: 0.15, hostType: 0.15, idc: 0.15, location: 0.15 });
  t.is(Object.values(LEGACY_WEIGHTS).reduce((a, b) => a + b, 0).toFixed(10), (1).toFixed(10));
});

test('scores match the weighted sum on hand-computed inputs', (t) => {
  const ev = new LegacyEvaluator();
  const a = cand('a', 5, { uploadSuccessCount: 3, uploadFailedCount: 1, uploadLimit: 4, concurrentUploads: 1, idc: 'HZ', location: 'cn|zj|nb' });
  // 0.2·0.5 + 0.2·0.75 + 0.15·0.75 + 0.15·0.5 + 0.15·1 + 0.15·0.4 = 0.6475
  t.is(ev.score(a, ctx).total.toFixed(4), '0.6475');
  const seed = cand('s', 10, { type: 'super', uploadLimit: 10 });
  // 0.2·1 + 0.2·1 + 0.15·1 + 0.15·1 = 0.7
  t.is(ev.score(seed, ctx).total.toFixed(4), '0.7000');
  t.deepEqual(ev.rank([a, seed], ctx).map((c) => c.peerId), ['s', 'a']);
});

test('bandwidth does not count: a fast host with fewer pieces loses', (t) => {
  const ev = new LegacyEvaluator();
  const fast = cand('fast', 1, { maxUploadBps: 1e10, uploadLimit: 10 });
  const slow = cand('slow', 9, { maxUploadBps: 1e6, uploadLimit: 10 });
  t.is(ev.rank([fast, slow], ctx)[0]!.peerId, 'slow');
});
