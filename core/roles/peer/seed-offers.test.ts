import test from 'ava';
import { SeedOffers } from './seed-offers.js';
import { TaskState, type HeldPiece } from './task-state.js';

function stateWith(count: number): TaskState {
  const s = new TaskState('t1');
  s.record = { taskId: 't1', contentLength: count * 4, pieceLength: 4, finished: true } as TaskState['record'];
  for (let n = 0; n < count; n += 1) s.addPiece({ number: n, offset: n * 4, length: 4, digest: `crc32:${n}`, createdAt: 0 });
  return s;
}

function child(offers: SeedOffers, state: TaskState, hostId: string, interested?: number[]) {
  const got: number[] = [];
  const stream = offers.open(state, hostId, interested ? new Set(interested) : undefined, (p: HeldPiece) => got.push(p.number));
  return { got, stream };
}

test('children get disjoint offers, a few at a time, and the next one after a fetch', (t) => {
  const offers = new SeedOffers({ inFlight: 4, grantTtlMs: 60_000 });
  const state = stateWith(10);
  const a = child(offers, state, 'host-a');
  const b = child(offers, state, 'host-b');
  t.deepEqual(a.got, [0, 1, 2, 3], 'alone, the first child gets the whole in-flight budget');
  t.deepEqual(b.got, [4, 5], 'the second child gets its share; the budget is now split');
  offers.fetched('t1', 0);
  offers.fetched('t1', 4);
  t.deepEqual(b.got, [4, 5, 6], 'a fetch by b frees room for b');
  t.deepEqual(a.got, [0, 1, 2, 3], 'a still holds more than its share of unfetched offers');
  for (const n of [1, 2, 3, 5, 6]) offers.fetched('t1', n);
  t.deepEqual([...a.got, ...b.got].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every piece offered exactly once');
  a.stream!.close();
  b.stream!.close();
});

test('a second stream from the same host is answered plainly; a closed stream frees its offers', (t) => {
  const offers = new SeedOffers({ inFlight: 2, grantTtlMs: 60_000 });
  const state = stateWith(4);
  const a = child(offers, state, 'host-a');
  t.deepEqual(a.got, [0, 1]);
  offers.fetched('t1', 0);
  const b = child(offers, state, 'host-b', [0, 1, 2, 3]);
  t.deepEqual(a.got, [0, 1, 2], 'a fetched 0 and was offered 2');
  t.deepEqual(b.got, [3], 'while a syncs, b gets none of the pieces a fetched or was offered');
  a.stream!.close();
  t.is(offers.open(state, 'host-a', undefined, () => undefined), undefined, 'host-a asks again: no more offers, everything');
  offers.fetched('t1', 3);
  t.deepEqual(b.got, [3, 0, 1], 'a has gone: what it held may be offered to b, which now has the whole budget');
  b.stream!.close();
});

test('an offer not fetched in time may go to another child', async (t) => {
  const offers = new SeedOffers({ inFlight: 1, grantTtlMs: 150 });
  const state = stateWith(1);
  const a = child(offers, state, 'host-a');
  const b = child(offers, state, 'host-b');
  t.deepEqual(a.got, [0]);
  t.deepEqual(b.got, []);
  await new Promise((r) => setTimeout(r, 400));
  t.deepEqual(b.got, [0], 'a sat on its offer; after the offer time-out b gets the piece');
  a.stream!.close();
  b.stream!.close();
});

test('pieces that land on the seed later are offered as they arrive', (t) => {
  const offers = new SeedOffers({ inFlight: 2, grantTtlMs: 60_000 });
  const state = stateWith(0);
  const a = child(offers, state, 'host-a');
  t.deepEqual(a.got, []);
  state.addPiece({ number: 0, offset: 0, length: 4, digest: 'crc32:0', createdAt: 0 });
  state.addPiece({ number: 1, offset: 4, length: 4, digest: 'crc32:1', createdAt: 0 });
  state.addPiece({ number: 2, offset: 8, length: 4, digest: 'crc32:2', createdAt: 0 });
  t.deepEqual(a.got, [0, 1]);
  offers.fetched('t1', 1);
  t.deepEqual(a.got, [0, 1, 2]);
  a.stream!.close();
  t.is(state.listenerCount('piece'), 0, 'a closed stream leaves no listener behind');
});
