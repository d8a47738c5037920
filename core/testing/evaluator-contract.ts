import type { TestFn } from 'ava';
import type { CandidateParent, EvaluationContext, Evaluator, HostProfile } from '../contracts/evaluator.js';

export interface EvaluatorContractOptions {
  /** Prefix of every test title, e.g. `'legacy'`. */
  name: string;
  /** A fresh evaluator per test. */
  create(): Evaluator;
}

function host(over: Partial<HostProfile> & { id: string }): HostProfile {
  return {
    ip: '127.0.0.1', hostname: over.id, type: 'normal', maxUploadBps: 0, uploadBpsLast60s: 0,
    concurrentUploads: 0, uploadLimit: 0, uploadSuccessCount: 0, uploadFailedCount: 0, ...over,
  };
}

function candidate(peerId: string, h: Partial<HostProfile> = {}, costs: number[] = [], finished = 1): CandidateParent {
  return { peerId, host: host({ id: `host-${peerId}`, ...h }), finishedPieceCount: finished, pieceCostsMs: costs };
}

const ctx: EvaluationContext = {
  taskId: 'a'.repeat(64), totalPieceCount: 16,
  child: { peerId: 'child', host: host({ id: 'child-host', idc: 'idc-a', location: 'cn|zj|hz' }) },
};

/** A mixed round: hosts that differ in type, bandwidth, load, IDC, location, progress and costs. */
function mixedRound(): CandidateParent[] {
  return [
    candidate('p-seed', { type: 'super', maxUploadBps: 1e9, uploadLimit: 200, idc: 'idc-b' }, [], 16),
    candidate('p-fast-local', { maxUploadBps: 1.25e9, uploadBpsLast60s: 1e8, uploadLimit: 50, concurrentUploads: 2, idc: 'idc-a', location: 'cn|zj|hz' }, [5, 6, 5], 12),
    candidate('p-slow-remote', { maxUploadBps: 1.25e7, uploadLimit: 10, concurrentUploads: 8, location: 'us|ca' }, [50, 60], 3),
    candidate('p-busy', { maxUploadBps: 1e9, uploadBpsLast60s: 9e8, concurrentUploads: 40, uploadLimit: 50, uploadSuccessCount: 10, uploadFailedCount: 10 }, [], 8),
    candidate('p-unknown'),
    candidate('p-same-a', { maxUploadBps: 1e8, uploadLimit: 10, location: 'cn|zj' }, [], 4),
    candidate('p-same-b', { maxUploadBps: 1e8, uploadLimit: 10, location: 'cn|zj' }, [], 4),
  ];
}

/**
 * The contract every evaluator plugin passes: `rank` is deterministic and independent of input
 * order, returns a permutation of its input (never adds, drops or mutates a candidate), handles an
 * empty round, breaks ties by peer id; `isBadParent` applies the shared piece-cost rules (20× the
 * mean of earlier costs; mean + 3σ from 2,000 samples on) and never flags a parent with fewer than
 * two samples.
 */
export function evaluatorContract(test: TestFn, options: EvaluatorContractOptions): void {
  const title = (s: string): string => `${options.name}: ${s}`;

  test(title('the same round ranks the same way, whatever the input order'), (t) => {
    const ev = options.create();
    const round = mixedRound();
    const first = ev.rank(round, ctx).map((c) => c.peerId);
    t.deepEqual(options.create().rank(round, ctx).map((c) => c.peerId), first, 'a second instance agrees');
    t.deepEqual(ev.rank([...round].reverse(), ctx).map((c) => c.peerId), first, 'reversed input');
    const rotated = [...round.slice(3), ...round.slice(0, 3)];
    t.deepEqual(ev.rank(rotated, ctx).map((c) => c.peerId), first, 'rotated input');
  });

  test(title('rank returns a permutation of the input and leaves it untouched'), (t) => {
    const ev = options.create();
    const round = mixedRound();
    const before = JSON.stringify(round);
    const ranked = ev.rank(round, ctx);
    t.not(ranked, round as unknown, 'a new array');
    t.is(ranked.length, round.length);
    t.true(ranked.every((c) => round.includes(c)), 'only candidates of the input');
    t.is(new Set(ranked).size, round.length, 'each candidate once');
    t.is(JSON.stringify(round), before, 'candidates and input order unchanged');
  });

  test(title('an empty round ranks to an empty list'), (t) => {
    t.deepEqual(options.create().rank([], ctx), []);
  });

  test(title('identical candidates are ordered by peer id'), (t) => {
    const ev = options.create();
    const same = { maxUploadBps: 1e8, uploadLimit: 10 };
    const round = ['d', 'b', 'a', 'c'].map((id) => ({ ...candidate(id, same), host: host({ id: 'shared', ...same }) }));
    t.deepEqual(ev.rank(round, ctx).map((c) => c.peerId), ['a', 'b', 'c', 'd']);
  });

  test(title('bad parent: last cost above 20x the mean of the earlier ones'), (t) => {
    const ev = options.create();
    t.false(ev.isBadParent(candidate('p'), ctx), 'no samples');
    t.false(ev.isBadParent(candidate('p', {}, [100_000]), ctx), 'one sample');
    t.true(ev.isBadParent(candidate('p', {}, [10, 10, 10, 201]), ctx));
    t.false(ev.isBadParent(candidate('p', {}, [10, 10, 10, 200]), ctx));
  });

  test(title('bad parent: mean + 3 sigma once 2,000 samples are in'), (t) => {
    const ev = options.create();
    const earlier = Array.from({ length: 1999 }, (_, i) => (i % 2 === 0 ? 9 : 11));
    t.true(ev.isBadParent(candidate('p', {}, [...earlier, 50]), ctx), '50 > 10 + 3σ');
    t.false(ev.isBadParent(candidate('p', {}, [...earlier, 12.9]), ctx));
    t.false(ev.isBadParent(candidate('p', {}, [...earlier.slice(1), 50]), ctx), 'with 1,999 samples the 20x rule applies');
  });
}
