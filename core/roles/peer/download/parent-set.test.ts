import test from 'ava';
import { HostType, type Peer } from '../../../protocol/rpc/gen/common.js';
import { MAX_PARENT_FAILURES, MAX_STALE_ANNOUNCEMENTS, MAX_UPSTREAM_LOSSES, ParentSet } from './parent-set.js';

function peer(id: string, seed = false): Peer {
  return { id, host: { id: `host-${id}`, ip: '127.0.0.1', uploadPort: 4000, rpcPort: 4001, type: seed ? HostType.HOST_TYPE_SUPER : HostType.HOST_TYPE_NORMAL, maxTxBps: 1000, txBps60s: 0 } } as unknown as Peer;
}

function holding(set: ParentSet, id: string, seed: boolean, ...pieces: number[]): void {
  const p = set.add(peer(id, seed))!;
  for (const n of pieces) p.pieces.set(n, { number: n } as never);
}

test('a busy holder is not chosen; another normal holder is', (t) => {
  const set = new ParentSet(() => 0);
  holding(set, 'a', false, 0);
  holding(set, 'b', false, 0);
  for (let i = 0; i < 20; i++) t.is(set.choose(0, undefined, new Set(['a']))?.id, 'b');
});

test('while only busy normal parents hold a piece, the child waits instead of asking the seed', (t) => {
  const set = new ParentSet();
  holding(set, 'seed', true, 0, 1);
  holding(set, 'a', false, 0);
  t.is(set.choose(0, undefined, new Set(['a'])), undefined, 'piece 0: its holder is busy, the seed is spared');
  t.is(set.choose(1, undefined, new Set(['a']))?.id, 'seed', 'piece 1: no normal parent holds it, the seed is asked');
  t.is(set.choose(0, new Set(['a']))?.id, 'seed', 'a holder that failed the piece does not hold the seed back');
  t.is(set.choose(0)?.id, 'a');
});

test('a parent whose piece sync is open loses pieces it was passing on without being dropped, up to a bound; one without is dropped after 3 failures', (t) => {
  const set = new ParentSet();
  const relaying = set.add(peer('relaying'))!;
  relaying.syncing = true;
  for (let i = 0; i < MAX_UPSTREAM_LOSSES; i++) t.true(set.lostUpstream(relaying), `loss ${i + 1} is its source's`);
  t.false(set.lostUpstream(relaying), 'past the bound, losses count as its failures');
  t.false(relaying.dead);
  const gone = set.add(peer('gone'))!;
  t.false(set.lostUpstream(gone), 'its piece sync ended too: a failure of its own');
  for (let i = 1; i < MAX_PARENT_FAILURES; i++) t.false(set.failed(gone));
  t.true(set.failed(gone), 'dropped at the third failure');
  t.deepEqual(set.live().map((p) => p.id), ['relaying']);
});

test('a parent that says it lacks a piece it announced keeps its place; the piece is forgotten until announced again, up to a bound', (t) => {
  const set = new ParentSet();
  holding(set, 'relaying', false, 0, 1);
  const relaying = set.byId.get('relaying')!;
  relaying.syncing = true;
  t.true(set.lostAnnounced(relaying, 0));
  t.is(set.choose(0), undefined, 'piece 0 is not asked of it again');
  t.is(set.choose(1)?.id, 'relaying', 'its other pieces still are');
  t.false(set.lostAnnounced(relaying, 5), 'a piece it never announced: a failure of its own');
  for (let i = 1; i < MAX_STALE_ANNOUNCEMENTS; i++) {
    relaying.pieces.set(0, { number: 0 } as never);
    t.true(set.lostAnnounced(relaying, 0));
  }
  relaying.pieces.set(0, { number: 0 } as never);
  t.false(set.lostAnnounced(relaying, 0), 'past the bound, such answers count as its failures');
  t.false(relaying.dead);
  const quiet = set.add(peer('quiet'))!;
  quiet.pieces.set(2, { number: 2 } as never);
  t.false(set.lostAnnounced(quiet, 2), 'its piece sync ended: a failure of its own');
});

test('a parent dropped for failures comes back when the scheduler offers it again; one that sent a corrupt piece does not', (t) => {
  const set = new ParentSet();
  holding(set, 'a', false, 0);
  holding(set, 'b', false, 0);
  const a = set.byId.get('a')!;
  for (let i = 0; i < MAX_PARENT_FAILURES; i++) set.failed(a);
  t.true(a.dead);
  set.block(set.byId.get('b')!);
  t.is(set.choose(0), undefined);
  t.is(set.add(peer('b')), undefined, 'the corrupt one stays out');
  const back = set.add(peer('a'));
  t.is(back, a, 'offered again, it is returned to be synced with anew');
  t.false(a.dead);
  t.is(a.failures, 0);
  t.is(a.pieces.size, 0, 'its old announcements are forgotten: the new piece sync says what it holds');
  t.is(set.add(peer('a')), undefined, 'a live parent offered again is not synced twice');
  t.deepEqual(set.deadIds(), ['b']);
});
