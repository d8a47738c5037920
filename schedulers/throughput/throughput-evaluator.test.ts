import test from 'ava';
import type { CandidateParent, EvaluationContext, HostProfile } from '../../core/index.js';
import { DefaultEvaluator } from '../default/default-evaluator.js';
import { ThroughputEvaluator } from './throughput-evaluator.js';

function host(over: Partial<HostProfile>): HostProfile {
  return {
    id: 'h', ip: '127.0.0.1', hostname: 'h', type: 'normal', maxUploadBps: 0, uploadBpsLast60s: 0,
    concurrentUploads: 0, uploadLimit: 0, uploadSuccessCount: 0, uploadFailedCount: 0, ...over,
  };
}
const ctx: EvaluationContext = {
  taskId: 't', totalPieceCount: 10, child: { peerId: 'child', host: host({ id: 'child', idc: 'hz', location: 'cn|zj|hz' }) },
};
const cand = (peerId: string, h: Partial<HostProfile>, costs: number[] = []): CandidateParent =>
  ({ peerId, host: host({ id: `host-${peerId}`, ...h }), finishedPieceCount: 5, pieceCostsMs: costs });

test('a big host already serving many uploads loses to an idle smaller one (default picks the big one)', (t) => {
  const busyBig = cand('busy', { maxUploadBps: 1.25e9, uploadBpsLast60s: 6e8, concurrentUploads: 40, uploadLimit: 100 });
  const idleSmall = cand('idle', { maxUploadBps: 1.25e8, uploadLimit: 100 });
  t.is(new ThroughputEvaluator().rank([busyBig, idleSmall], ctx)[0]!.peerId, 'idle', '6.5e8/41 ≈ 1.6e7 B/s per slot < 1.25e8');
  t.is(new DefaultEvaluator().rank([busyBig, idleSmall], ctx)[0]!.peerId, 'busy');
});

test('locality multiplies the rate: same IDC wins at equal speed, a 2x faster remote host still wins', (t) => {
  const ev = new ThroughputEvaluator();
  const local = cand('local', { maxUploadBps: 1e8, idc: 'hz' });
  const remote = cand('remote', { maxUploadBps: 1e8, idc: 'sh' });
  t.is(ev.rank([remote, local], ctx)[0]!.peerId, 'local');
  const fastRemote = cand('remote', { maxUploadBps: 2e8, idc: 'sh' });
  t.is(ev.rank([local, fastRemote], ctx)[0]!.peerId, 'remote', '1·0.6 > 0.5·1.0');
});

test('observed piece costs count as much as announced bandwidth', (t) => {
  const ev = new ThroughputEvaluator();
  const claimsFast = cand('claims', { maxUploadBps: 1e9 }, [400, 420, 410]);
  const deliversFast = cand('delivers', { maxUploadBps: 5e8 }, [20, 22, 21]);
  // claims: 0.5·1 + 0.5·(21/410) ≈ 0.53; delivers: 0.5·0.5 + 0.5·1 = 0.75
  t.is(ev.rank([claimsFast, deliversFast], ctx)[0]!.peerId, 'delivers');
  const s = ev.score(deliversFast, ctx, ev.roundStats([claimsFast, deliversFast]));
  t.is(s.total.toFixed(4), (0.75 * 0.6 * 0.5 * (0.25 + 0.75 * 0.5)).toFixed(4));
});

test('a parent holding the pieces beats an equally fast one that holds few', (t) => {
  const ev = new ThroughputEvaluator();
  const holder = { ...cand('holder', { maxUploadBps: 1e8 }), finishedPieceCount: 10 };
  const empty = { ...cand('empty', { maxUploadBps: 1e8 }), finishedPieceCount: 0 };
  t.deepEqual(ev.rank([empty, holder], ctx).map((c) => c.peerId), ['holder', 'empty']);
  t.is(ev.score(empty, ctx, ev.roundStats([empty, holder])).availability, 0.25);
});
