import test from 'ava';
import { UploadSlots } from './upload-slots.js';

test('at most `limit` uploads run at once; the others start in arrival order as slots free', async (t) => {
  const slots = new UploadSlots(2);
  const order: string[] = [];
  const a = await slots.acquire();
  const b = await slots.acquire();
  const c = slots.acquire().then((release) => { order.push('c'); return release; });
  const d = slots.acquire().then((release) => { order.push('d'); return release; });
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, [], 'two uploads hold both slots');
  t.is(slots.running, 2);
  a();
  a();
  const releaseC = await c;
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, ['c'], 'a second release of the same slot frees nothing more');
  b();
  const releaseD = await d;
  t.deepEqual(order, ['c', 'd']);
  releaseC();
  releaseD();
  t.is(slots.running, 0, 'every slot is free again');
});
