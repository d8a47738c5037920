import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { isD7yError } from '../../core/index.js';
import { contractTaskId, readAll } from '../../core/testing/storage-medium-contract.js';
import { tmpDir } from '../../test/support/env.js';
import { DiskStorage, type DiskStorageOptions } from './disk-storage.js';

const K = 1024;
const HOUR = 3_600_000;

async function startedDisk(t: ExecutionContext, options: Omit<DiskStorageOptions, 'dir'>): Promise<DiskStorage> {
  const disk = new DiskStorage({ dir: await tmpDir(t, 'd7y-gc-'), ...options });
  await disk.start();
  t.teardown(() => disk.stop());
  return disk;
}

async function addTask(disk: DiskStorage, label: string, kib: number, opts: { at: number; finished?: boolean; pinned?: boolean }): Promise<string> {
  const taskId = contractTaskId(label);
  await disk.putTask({ taskId, pieceLength: kib * K, contentLength: kib * K, pinned: opts.pinned });
  await disk.writePiece(taskId, { number: 0, offset: 0, length: kib * K }, randomBytes(kib * K));
  await disk.putTask({ taskId, pieceLength: kib * K, finished: opts.finished ?? true, lastAccessedAt: opts.at });
  return taskId;
}

test('disk GC by TTL removes tasks idle past the TTL, but never pinned ones or one being written', async (t) => {
  const clock = { now: 100 * HOUR };
  const disk = await startedDisk(t, { now: () => clock.now, gc: { taskTtl: 24 * HOUR, interval: HOUR } });
  const stale = await addTask(disk, 'stale', 16, { at: 70 * HOUR });
  const staleUnfinished = await addTask(disk, 'stale-unfinished', 16, { at: 70 * HOUR, finished: false });
  const pinned = await addTask(disk, 'pinned', 16, { at: 10 * HOUR, pinned: true });
  const fresh = await addTask(disk, 'fresh', 16, { at: 90 * HOUR });
  const writing = contractTaskId('writing');
  await disk.putTask({ taskId: writing, pieceLength: 16 * K, contentLength: 16 * K, lastAccessedAt: 10 * HOUR });
  const body = new PassThrough();
  const inFlight = disk.writePiece(writing, { number: 0, offset: 0, length: 16 * K }, body);
  body.write(randomBytes(8 * K));
  await delay(20);

  const report = await disk.gc();
  t.deepEqual(report.evicted.map((e) => [e.taskId, e.reason, e.bytes]).sort(), [[stale, 'ttl', 16 * K], [staleUnfinished, 'ttl', 16 * K]].sort());
  t.is(await disk.getTask(stale), undefined);
  t.false(await disk.hasPiece(stale, 0));
  for (const kept of [pinned, fresh, writing]) t.truthy(await disk.getTask(kept));
  body.end(randomBytes(8 * K));
  t.is((await inFlight).length, 16 * K);
  t.is((await disk.stats()).usedBytes, 3 * 16 * K);
});

test('disk GC by watermark evicts least recently used finished tasks until below the low watermark', async (t) => {
  const disk = await startedDisk(t, { now: () => 10_000, quota: 1000 * K, gc: { highWatermark: 80, lowWatermark: 60, taskTtl: 1000 * HOUR } });
  const a = await addTask(disk, 'lru-a', 200, { at: 1000 });
  const b = await addTask(disk, 'lru-b', 200, { at: 2000 });
  const c = await addTask(disk, 'lru-c', 200, { at: 3000 });
  const unfinished = await addTask(disk, 'lru-unfinished', 200, { at: 500, finished: false });
  const pinned = await addTask(disk, 'lru-pinned', 100, { at: 100, pinned: true });
  t.is((await disk.stats()).usedBytes, 900 * K);
  const report = await disk.gc();
  t.deepEqual(report.evicted.map((e) => [e.taskId, e.reason]), [[a, 'watermark'], [b, 'watermark']]);
  t.deepEqual((await disk.listTasks()).map((r) => r.taskId).sort(), [c, unfinished, pinned].sort());
  t.is((await disk.stats()).usedBytes, 500 * K);
  t.deepEqual((await disk.gc()).evicted, [], 'below the high watermark nothing more goes');
});

test('disk GC runs on its interval timer', async (t) => {
  const clock = { now: 10 * HOUR };
  const disk = await startedDisk(t, { now: () => clock.now, gc: { interval: 20, taskTtl: HOUR } });
  const taskId = await addTask(disk, 'timer', 4, { at: clock.now });
  await delay(100);
  t.truthy(await disk.getTask(taskId), 'kept while within its TTL');
  clock.now += 2 * HOUR;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && await disk.getTask(taskId)) await delay(20);
  t.is(await disk.getTask(taskId), undefined);
});

test('disk quota: a write evicts idle finished tasks to fit, and fails with D7Y_STORAGE_FULL when nothing can go', async (t) => {
  const disk = await startedDisk(t, { now: () => 10_000, quota: 300 * K });
  const old = await addTask(disk, 'quota-old', 100, { at: 1000 });
  const newer = await addTask(disk, 'quota-newer', 100, { at: 2000 });
  const pinned = await addTask(disk, 'quota-pinned', 100, { at: 10, pinned: true });
  const taskId = contractTaskId('quota-new');
  await disk.putTask({ taskId, pieceLength: 100 * K });
  const bytes = randomBytes(100 * K);
  await disk.writePiece(taskId, { number: 0, offset: 0, length: 100 * K }, bytes);
  t.is(await disk.getTask(old), undefined);
  t.truthy(await disk.getTask(newer));
  t.true((await readAll(await disk.readPiece(taskId, 0))).equals(bytes));
  const err = await t.throwsAsync(disk.writePiece(taskId, { number: 1, offset: 100 * K, length: 250 * K }, randomBytes(250 * K)));
  t.true(isD7yError(err, 'D7Y_STORAGE_FULL'), String(err));
  t.regex(err!.message, /reached its quota of 300 KiB/);
  t.false(await disk.hasPiece(taskId, 1));
  t.truthy(await disk.getTask(pinned));
  t.truthy(await disk.getTask(newer), 'nothing is evicted for a write that could not fit anyway');
  t.is((await disk.stats()).freeBytes, 0);
});
