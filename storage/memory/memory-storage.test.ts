import { randomBytes } from 'node:crypto';
import test from 'ava';
import { isD7yError, pieceDigest } from '../../core/index.js';
import { contractTaskId, readAll, slowStream, storageMediumContract } from '../../core/testing/storage-medium-contract.js';
import plugin from './index.js';
import { MemoryStorage } from './memory-storage.js';

const K = 1024;

storageMediumContract(test, 'memory', async () => new MemoryStorage({ capacity: 8 * 1024 * K }));

async function startedMemory(t: import('ava').ExecutionContext, capacity: number, clock = { now: 1000 }): Promise<MemoryStorage> {
  const medium = new MemoryStorage({ capacity, now: () => clock.now });
  await medium.start();
  t.teardown(() => medium.stop());
  return medium;
}

async function fill(medium: MemoryStorage, label: string, pieces: number, pinned = false): Promise<string> {
  const taskId = contractTaskId(label);
  await medium.putTask({ taskId, pieceLength: 100 * K, contentLength: pieces * 100 * K, pinned });
  for (let n = 0; n < pieces; n++) await medium.writePiece(taskId, { number: n, offset: n * 100 * K, length: 100 * K }, randomBytes(100 * K));
  await medium.putTask({ taskId, pieceLength: 100 * K, finished: true });
  return taskId;
}

test('memory: when the budget is reached, least recently used tasks are evicted whole and pinned ones stay', async (t) => {
  const clock = { now: 1000 };
  const medium = await startedMemory(t, 500 * K, clock);
  const pinned = await fill(medium, 'pinned', 1, true);
  clock.now = 2000;
  const old = await fill(medium, 'old', 2);
  clock.now = 3000;
  const recent = await fill(medium, 'recent', 2);
  clock.now = 4000;
  await readAll(await medium.readPiece(old, 0));
  clock.now = 5000;
  const fresh = await fill(medium, 'fresh', 2);
  t.is(await medium.getTask(recent), undefined, 'the least recently used task is evicted');
  t.true(await medium.hasPiece(old, 1), 'a task read recently is kept');
  t.true(await medium.hasPiece(pinned, 0), 'a pinned task is never evicted');
  t.true(await medium.hasPiece(fresh, 1));
  const stats = await medium.stats();
  t.is(stats.usedBytes, 5 * 100 * K);
  t.is(stats.freeBytes, 0);
  t.is(stats.taskCount, 3);
});

test('memory: a piece that cannot fit even after eviction is refused with D7Y_STORAGE_FULL and nothing changes', async (t) => {
  const medium = await startedMemory(t, 250 * K);
  const pinned = await fill(medium, 'pinned-full', 2, true);
  const taskId = contractTaskId('too-big');
  await medium.putTask({ taskId, pieceLength: 100 * K });
  const err = await t.throwsAsync(medium.writePiece(taskId, { number: 0, offset: 0, length: 100 * K }, slowStream(randomBytes(100 * K))));
  t.true(isD7yError(err, 'D7Y_STORAGE_FULL'), String(err));
  t.regex(err!.message, /memory storage is full/);
  t.regex((err as { fix?: string }).fix ?? '', /capacity/);
  t.false(await medium.hasPiece(taskId, 0));
  t.true(await medium.hasPiece(pinned, 1));
  t.is((await medium.stats()).usedBytes, 200 * K);
  const bigger = await t.throwsAsync(medium.writePiece(taskId, { number: 1, offset: 0, length: 300 * K }, randomBytes(300 * K)));
  t.true(isD7yError(bigger, 'D7Y_STORAGE_FULL'));
});

test('memory: a task with a read stream open or a write in flight is not evicted', async (t) => {
  const medium = await startedMemory(t, 300 * K);
  const reading = await fill(medium, 'reading', 2);
  const stream = await medium.readPiece(reading, 0);
  const taskId = contractTaskId('newcomer');
  await medium.putTask({ taskId, pieceLength: 100 * K });
  const err = await t.throwsAsync(medium.writePiece(taskId, { number: 0, offset: 0, length: 200 * K }, randomBytes(200 * K)));
  t.true(isD7yError(err, 'D7Y_STORAGE_FULL'));
  t.true((await readAll(stream)).length === 100 * K);
  const bytes = randomBytes(200 * K);
  await medium.writePiece(taskId, { number: 0, offset: 0, length: 200 * K }, bytes, pieceDigest(bytes));
  t.is(await medium.getTask(reading), undefined, 'evicted once its reader finished');
  t.true((await readAll(await medium.readPiece(taskId, 0))).equals(bytes));
});

test('memory plugin: parses "512MiB", refuses unknown keys and registers a medium named memory', async (t) => {
  t.is(plugin.manifest.name, 'memory');
  t.deepEqual(plugin.manifest.provides, ['storage:memory']);
  t.is(plugin.parseConfig!({ capacity: '64MiB' }).capacity, 64 * 1024 * K);
  t.is(plugin.parseConfig!(undefined).capacity, 512 * 1024 * K);
  t.throws(() => plugin.parseConfig!({ capacity: '64 potatoes' }), { message: /not a size/ });
  t.throws(() => plugin.parseConfig!({ capacty: '64MiB' }));
  const added: { name: string }[] = [];
  await plugin.register({ config: { capacity: 1024 }, storage: { add: (m: { name: string }) => added.push(m) } } as never);
  t.deepEqual(added.map((m) => m.name), ['memory']);
});
