import test from 'ava';
import { WrittenPrefix } from './written-prefix.js';

const B = 256 * 1024;

test('written prefix: batches landing in order are reported as the bytes written from the piece start', (t) => {
  const seen: number[] = [];
  const prefix = new WrittenPrefix(10 * B, (bytes) => seen.push(bytes));
  prefix.landed(10 * B, 11 * B);
  prefix.landed(11 * B, 12 * B);
  prefix.landed(12 * B, 12 * B + 7);
  t.deepEqual(seen, [B, 2 * B, 2 * B + 7]);
});

test('written prefix: a batch landing past a gap is reported only once the gap is filled, with everything after it', (t) => {
  const seen: number[] = [];
  const prefix = new WrittenPrefix(0, (bytes) => seen.push(bytes));
  prefix.landed(2 * B, 3 * B);
  prefix.landed(B, 2 * B);
  t.deepEqual(seen, [], 'nothing while the first batch is missing');
  prefix.landed(0, B);
  t.deepEqual(seen, [3 * B]);
  prefix.landed(4 * B, 5 * B);
  prefix.landed(3 * B, 4 * B);
  t.deepEqual(seen, [3 * B, 5 * B]);
});

test('written prefix: after a failed batch nothing more is reported', (t) => {
  const seen: number[] = [];
  const prefix = new WrittenPrefix(0, (bytes) => seen.push(bytes));
  prefix.landed(B, 2 * B);
  prefix.fail();
  prefix.landed(0, B);
  prefix.landed(2 * B, 3 * B);
  t.deepEqual(seen, []);
});
