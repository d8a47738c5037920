import test from 'ava';
import { BufferPool } from './buffer-pool.js';

test('a buffer given back is handed out again, once, even when given back twice or as a view', (t) => {
  const pool = new BufferPool(1024, 4);
  const a = pool.take();
  a.fill(1);
  pool.give(a.subarray(0, 10));
  pool.give(a);
  t.is(pool.idleCount, 1);
  const again = pool.take();
  t.is(again.buffer, a.buffer);
  t.is(again.length, 1024);
  t.not(pool.take().buffer, a.buffer, 'a buffer in use must not be handed out twice');
});

test('foreign buffers and buffers beyond maxFree are not kept', (t) => {
  const pool = new BufferPool(1024, 2);
  pool.give(Buffer.alloc(1024 * 2));
  pool.give(Buffer.from('small'));
  t.is(pool.idleCount, 0);
  const bs = [pool.take(), pool.take(), pool.take()];
  for (const b of bs) pool.give(b);
  t.is(pool.idleCount, 2);
});
