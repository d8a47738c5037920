import test from 'ava';
import { HashRing } from './hash-ring.js';

const keys = Array.from({ length: 2000 }, (_, i) => `task-${i}`);

test('a key maps to the same member whatever the order members are given in', (t) => {
  const a = new HashRing(['s1:8002', 's2:8002', 's3:8002']);
  const b = new HashRing(['s3:8002', 's1:8002', 's2:8002']);
  for (const k of keys) t.is(a.get(k), b.get(k));
  t.is(new HashRing([]).get('x'), undefined);
});

test('removing a member moves only its keys, and spreads them', (t) => {
  const full = new HashRing(['s1', 's2', 's3', 's4']);
  const less = new HashRing(['s1', 's2', 's4']);
  const counts = new Map<string, number>();
  for (const k of keys) {
    const before = full.get(k)!;
    counts.set(before, (counts.get(before) ?? 0) + 1);
    if (before !== 's3') t.is(less.get(k), before);
    else t.not(less.get(k), 's3');
  }
  for (const [member, n] of counts) t.true(n > 250 && n < 750, `${member} owns ${n} of 2000 keys`);
});

test('lookup lists distinct fallbacks after the owner', (t) => {
  const ring = new HashRing(['a', 'b', 'c']);
  const order = ring.lookup('task-1');
  t.is(order.length, 3);
  t.is(new Set(order).size, 3);
  t.is(order[0], ring.get('task-1')!);
});
