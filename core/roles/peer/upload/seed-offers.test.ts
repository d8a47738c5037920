import test from 'ava';
import { SeedOffers } from './seed-offers.js';
import { TaskState, type AnnouncedPiece } from '../tasks/task-state.js';

function stateWith(count: number, total = count): TaskState {
  const s = new TaskState('t1');
  s.record = { taskId: 't1', contentLength: total * 4, pieceLength: 4, finished: count === total } as TaskState['record'];
  for (let n = 0; n < count; n += 1) s.addPiece({ number: n, offset: n * 4, length: 4, digest: `crc32:${n}`, createdAt: 0 });
  return s;
}

function child(offers: SeedOffers, state: TaskState, hostId: string, interested?: number[]) {
  const got: number[] = [];
  const stream = offers.open(state, hostId, interested ? new Set(interested) : undefined, (p: AnnouncedPiece) => got.push(p.number));
  return { got, stream };
}

test('children get disjoint offers; at most inFlight undelivered at once; the next after a delivery', (t) => {
  const offers = new SeedOffers({ inFlight: 3, grantTtlMs: 60_000 });
  const state = stateWith(10);
  const a = child(offers, state, 'host-a');
  t.deepEqual(a.got, [0, 1, 2], 'alone, the first child gets the whole budget');
  const b = child(offers, state, 'host-b');
  t.deepEqual(b.got, [], 'the budget is spent until a piece is delivered');
  offers.uploaded('t1', 0, true);
  t.deepEqual(b.got, [3], 'the freed slot goes to the child with the fewest pending offers');
  offers.uploaded('t1', 3, true);
  t.deepEqual(b.got, [3, 4]);
  offers.uploaded('t1', 1, false);
  offers.uploaded('t1', 4, true);
  t.deepEqual(b.got, [3, 4, 1], 'a failed upload withdraws the offer; the piece may go to another child');
  for (let round = 0; round < 10; round += 1) for (const n of [...a.got, ...b.got]) offers.uploaded('t1', n, true);
  t.deepEqual([...a.got, ...b.got].sort((x, y) => x - y), [0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every piece offered once, the failed one twice');
  a.stream!.close();
  b.stream!.close();
});

test('a second stream from the same host is answered plainly; a closed stream frees its pieces', (t) => {
  const offers = new SeedOffers({ inFlight: 2, grantTtlMs: 60_000 });
  const state = stateWith(4);
  const a = child(offers, state, 'host-a');
  const b = child(offers, state, 'host-b', [0, 1, 2, 3]);
  t.deepEqual(a.got, [0, 1]);
  offers.uploaded('t1', 0, true);
  t.deepEqual(b.got, [2], 'b gets a piece a neither holds nor was offered');
  a.stream!.close();
  t.is(offers.open(state, 'host-a', undefined, () => undefined), undefined, 'host-a asks again: no more offers, everything');
  t.deepEqual(b.got, [2, 0], 'a has gone: what it held may be offered to b');
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
  const state = stateWith(0, 3);
  const a = child(offers, state, 'host-a');
  t.deepEqual(a.got, []);
  for (const n of [0, 1, 2]) state.addPiece({ number: n, offset: n * 4, length: 4, digest: `crc32:${n}`, createdAt: 0 });
  t.deepEqual(a.got, [0, 1]);
  offers.uploaded('t1', 1, true);
  t.deepEqual(a.got, [0, 1, 2]);
  a.stream!.close();
  t.is(state.listenerCount('piece'), 0, 'a closed stream leaves no listener behind');
  t.is(state.listenerCount('receiving'), 0, 'nor a listener for arriving pieces');
});

/** A seed with one offer at a time, a two-piece task it holds nothing of yet, and two children. */
function twoChildren(grantTtlMs: number) {
  const offers = new SeedOffers({ inFlight: 1, grantTtlMs });
  const state = stateWith(0, 2);
  const a = child(offers, state, 'host-a');
  const b = child(offers, state, 'host-b');
  const arriving = () => state.startReceiving({ number: 0, offset: 0, length: 4, digest: '' });
  return { state, a, b, arriving, close: () => { a.stream!.close(); b.stream!.close(); } };
}

test('a piece is offered as soon as its first bytes arrive (cut-through), and its offer holds until it is whole', async (t) => {
  const { state, a, b, arriving, close } = twoChildren(100);
  const r0 = arriving();
  t.deepEqual(a.got, [], 'nothing to offer before a byte of it is written');
  r0.advance(1);
  t.deepEqual(a.got, [0], 'offered once its first byte is written, before the piece is whole');
  await new Promise((r) => setTimeout(r, 250));
  t.deepEqual(b.got, [], 'the offer of a piece still arriving does not time out');
  state.addPiece({ number: 0, offset: 0, length: 4, digest: 'crc32:0', createdAt: 0 });
  await new Promise((r) => setTimeout(r, 250));
  t.deepEqual(b.got, [0], 'once whole, the child has the offer time to fetch it, then it goes to another');
  close();
});

test('a piece that fails while arriving is offered again when it arrives anew', (t) => {
  const { state, a, b, arriving, close } = twoChildren(60_000);
  const r0 = arriving();
  r0.advance(2);
  t.deepEqual(a.got, [0]);
  state.endReceiving(r0, new Error('the origin dropped the connection'));
  arriving().advance(1);
  t.deepEqual([...a.got, ...b.got], [0, 0], 'offered again (the failed offer was withdrawn)');
  close();
});
