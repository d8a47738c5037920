import test from 'ava';
import type { CandidateParent, EvaluationContext, HostProfile } from '../../core/index.js';
import { DefaultEvaluator, locationAffinity } from './default-evaluator.js';

function host(over: Partial<HostProfile>): HostProfile {
  return {
    id: 'h', ip: '127.0.0.1', hostname: 'h', type: 'normal', maxUploadBps: 0, uploadBpsLast60s: 0,
    concurrentUploads: 0, uploadLimit: 0, uploadSuccessCount: 0, uploadFailedCount: 0, ...over,
  };
}

function cand(peerId: string, h: Partial<HostProfile>, pieceCostsMs: number[] = []): CandidateParent {
  return { peerId, host: host({ id: `host-${peerId}`, ...h }), finishedPieceCount: 1, pieceCostsMs };
}

const ctx: EvaluationContext = {
  taskId: 't', totalPieceCount: 10, child: { peerId: 'child', host: host({ id: 'child', idc: 'hz', location: 'cn|zj|hz' }) },
};
const ev = new DefaultEvaluator();

test('scores match the load-aware formula on hand-computed inputs', (t) => {
  const a = cand('a', { maxUploadBps: 1000, uploadBpsLast60s: 200, concurrentUploads: 1, uploadLimit: 4, idc: 'HZ', location: 'cn|zj|hz' });
  const b = cand('b', { type: 'super', maxUploadBps: 500, uploadBpsLast60s: 0, concurrentUploads: 0, uploadLimit: 2, idc: 'sh', location: 'cn|sh' });
  const sa = ev.score(a, ctx, 800);
  const sb = ev.score(b, ctx, 800);
  // a: load 0.5·1 + 0.3·0.8 + 0.2·0.75 = 0.89; total 0.6·0.89 + 0.2 + 0.1 + 0.1·0.5 = 0.884
  t.is(sa.loadQuality.toFixed(4), '0.8900');
  t.is(sa.total.toFixed(4), '0.8840');
  // b: load 0.5·0.625 + 0.3·1 + 0.2·1 = 0.8125; total 0.6·0.8125 + 0 + 0.1·0.2 + 0.1·1 = 0.6075
  t.is(sb.loadQuality.toFixed(4), '0.8125');
  t.is(sb.total.toFixed(4), '0.6075');
  t.deepEqual(ev.rank([b, a], ctx).map((c) => c.peerId), ['a', 'b']);
});

test('a host without a reported peak or limit scores only on affinity and type', (t) => {
  const s = ev.score(cand('x', { idc: 'hz' }), ctx, 0);
  t.is(s.loadQuality, 0);
  t.is(s.total.toFixed(4), (0.2 + 0.05).toFixed(4));
});

test('location affinity counts leading elements, at most five', (t) => {
  t.is(locationAffinity('cn|zj|hz', 'cn|zj|nb'), 0.4);
  t.is(locationAffinity('a|b|c|d|e|f', 'a|b|c|d|e|g'), 1);
  t.is(locationAffinity('cn', 'us'), 0);
  t.is(locationAffinity(undefined, 'cn'), 0);
});

test('ranking is deterministic, ties broken by peer id', (t) => {
  const same = { maxUploadBps: 100, uploadLimit: 10 };
  const cands = ['d', 'b', 'a', 'c'].map((id) => cand(id, same));
  t.deepEqual(ev.rank(cands, ctx).map((c) => c.peerId), ['a', 'b', 'c', 'd']);
  t.deepEqual(ev.rank([...cands].reverse(), ctx).map((c) => c.peerId), ['a', 'b', 'c', 'd']);
  t.deepEqual(cands.map((c) => c.peerId), ['d', 'b', 'a', 'c'], 'input untouched');
});

test('a seed wins only against an equally loaded normal parent', (t) => {
  const load = { maxUploadBps: 1000, uploadBpsLast60s: 0, uploadLimit: 10 };
  const seed = cand('seed', { ...load, type: 'super' });
  const normal = cand('normal', load);
  t.is(ev.rank([normal, seed], ctx)[0]!.peerId, 'seed');
  const busySeed = cand('seed', { ...load, type: 'super', uploadBpsLast60s: 300, concurrentUploads: 5 });
  t.is(ev.rank([normal, busySeed], ctx)[0]!.peerId, 'normal');
});

test('bad parent: last cost above 20x the mean of the earlier ones', (t) => {
  t.false(ev.isBadParent(cand('p', {}, []), ctx));
  t.false(ev.isBadParent(cand('p', {}, [1000]), ctx));
  t.true(ev.isBadParent(cand('p', {}, [10, 10, 10, 201]), ctx));
  t.false(ev.isBadParent(cand('p', {}, [10, 10, 10, 200]), ctx));
});

test('bad parent: mean + 3 sigma once 2,000 samples are in', (t) => {
  const earlier = Array.from({ length: 1999 }, (_, i) => (i % 2 === 0 ? 9 : 11));
  t.true(ev.isBadParent(cand('p', {}, [...earlier, 50]), ctx), '50 > mean 10 + 3σ (≈3)');
  t.false(ev.isBadParent(cand('p', {}, [...earlier, 12.9]), ctx));
  t.false(ev.isBadParent(cand('p', {}, [...earlier.slice(1), 50]), ctx), 'with 1,999 samples the 20x rule still applies');
});
