import { randomBytes } from 'node:crypto';
import { appendFile, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { pieceDigest } from '../../core/index.js';
import { contractTaskId, readAll, slowStream, storageMediumContract } from '../../core/testing/storage-medium-contract.js';
import { tmpDir } from '../../test/support/env.js';
import plugin from './index.js';
import { DiskStorage } from './disk-storage.js';

const P = 64 * 1024;

storageMediumContract(test, 'disk', async (t) => new DiskStorage({ dir: await tmpDir(t, 'd7y-disk-') }));

async function startedDisk(t: import('ava').ExecutionContext, dir: string): Promise<DiskStorage> {
  const disk = new DiskStorage({ dir });
  await disk.start();
  t.teardown(() => disk.stop());
  return disk;
}

/** A started disk in a new directory holding a task of 4 pieces of random bytes, `written` of them written. */
async function diskWithPieces(t: import('ava').ExecutionContext, label: string, written: number[]) {
  const dir = await tmpDir(t, 'd7y-disk-');
  const data = randomBytes(4 * P);
  const taskId = contractTaskId(label);
  const first = await startedDisk(t, dir);
  await first.putTask({ taskId, pieceLength: P, contentLength: data.length });
  for (const n of written) await first.writePiece(taskId, { number: n, offset: n * P, length: P }, data.subarray(n * P, (n + 1) * P));
  return { dir, data, taskId, first };
}

test('disk: tasks and pieces survive a stop and start of a new instance over the same directory', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const data = randomBytes(3 * P + 123);
  const taskId = contractTaskId('restart');
  const first = await startedDisk(t, dir);
  await first.putTask({ taskId, url: 'https://origin.example/restart', pieceLength: P, contentLength: data.length, pinned: true });
  await Promise.all([0, 1, 2, 3].map((n) => {
    const bytes = data.subarray(n * P, Math.min(data.length, (n + 1) * P));
    return first.writePiece(taskId, { number: n, offset: n * P, length: bytes.length }, slowStream(bytes), pieceDigest(bytes));
  }));
  await first.putTask({ taskId, pieceLength: P, finished: true });
  const before = await first.getTask(taskId);
  await first.stop();

  const second = await startedDisk(t, dir);
  t.deepEqual(await second.getTask(taskId), before);
  t.deepEqual((await second.listPieces(taskId)).map((p) => p.digest),
    [0, 1, 2, 3].map((n) => pieceDigest(data.subarray(n * P, Math.min(data.length, (n + 1) * P)))));
  const back = Buffer.concat(await Promise.all([0, 1, 2, 3].map(async (n) => readAll(await second.readPiece(taskId, n)))));
  t.true(back.equals(data));
  t.true((await readFile(second.taskFilePath(taskId)!)).equals(data), 'the task file holds the whole content at its offsets');
  t.is((await second.stats()).usedBytes, data.length);
});

test('disk: after a crash, pieces whose bytes are missing and torn metadata lines are dropped, the rest is served', async (t) => {
  const { dir, data, taskId, first } = await diskWithPieces(t, 'crash', [0, 1, 2, 3]);
  await first.stop();
  await truncate(first.taskFilePath(taskId)!, 3 * P - 10);
  const log = join(dir, 'metadata', 'tasks', taskId.slice(0, 3), `${taskId}.log`);
  await appendFile(log, '{"op":"piece","piece":{"number":9,"off');

  const second = await startedDisk(t, dir);
  t.deepEqual((await second.listPieces(taskId)).map((p) => p.number), [0, 1]);
  t.true((await readAll(await second.readPiece(taskId, 1))).equals(data.subarray(P, 2 * P)));
  await second.writePiece(taskId, { number: 2, offset: 2 * P, length: P }, data.subarray(2 * P, 3 * P));
  await second.stop();
  const third = await startedDisk(t, dir);
  t.deepEqual((await third.listPieces(taskId)).map((p) => p.number), [0, 1, 2], 'the repaired log takes new appends');
  t.true((await readAll(await third.readPiece(taskId, 2))).equals(data.subarray(2 * P, 3 * P)));
});

test('disk: a piece past the task length is refused and a write after stop says the storage is not running', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const disk = await startedDisk(t, dir);
  const taskId = contractTaskId('bounds');
  await disk.putTask({ taskId, pieceLength: P, contentLength: P + 10 });
  await t.throwsAsync(disk.writePiece(taskId, { number: 1, offset: P, length: P }, randomBytes(P)), { code: 'D7Y_INVALID_ARGUMENT', message: /ends past/ });
  await t.throwsAsync(disk.putTask({ taskId: '../../etc/passwd', pieceLength: P }), { code: 'D7Y_INVALID_ARGUMENT' });
  await disk.stop();
  await t.throwsAsync(disk.writePiece(taskId, { number: 1, offset: P, length: 10 }, randomBytes(10)), { code: 'D7Y_STORAGE_ERROR', message: new RegExp(`disk storage at ${dir} is not running`) });
});

test('disk: stop aborts a write whose stream never ends, promptly, and nothing of it is recorded', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const disk = await startedDisk(t, dir);
  const taskId = contractTaskId('stop-mid-write');
  await disk.putTask({ taskId, pieceLength: P, contentLength: P });
  const body = new PassThrough();
  const write = disk.writePiece(taskId, { number: 0, offset: 0, length: P }, body);
  const refused = t.throwsAsync(write, { message: /is stopping/ });
  body.write(randomBytes(1000));
  const started = Date.now();
  await disk.stop();
  t.true(Date.now() - started < 2000);
  await refused;
  const again = await startedDisk(t, dir);
  t.deepEqual(await again.listPieces(taskId), []);
});

test('disk plugin: defaults to the plugin data dir, parses sizes and durations, refuses bad watermarks', async (t) => {
  t.is(plugin.manifest.name, 'disk');
  t.deepEqual(plugin.manifest.provides, ['storage:disk']);
  const config = plugin.parseConfig!({ quota: '4GiB', gc: { taskTtl: '24h', interval: 30_000, highWatermark: 90 } });
  t.is(config.quota, 4 * 1024 * 1024 * 1024);
  t.deepEqual(config.gc, { taskTtl: 24 * 3_600_000, interval: 30_000, highWatermark: 90, lowWatermark: 60 });
  t.deepEqual(plugin.parseConfig!(undefined).gc, { taskTtl: 6 * 3_600_000, interval: 60_000, highWatermark: 80, lowWatermark: 60 });
  t.throws(() => plugin.parseConfig!({ gc: { highWatermark: 50, lowWatermark: 70 } }), { message: /lowWatermark must be lower/ });
  t.throws(() => plugin.parseConfig!({ gc: { taskTtl: 'a while' } }), { message: /not a duration/ });
  t.throws(() => plugin.parseConfig!({ directory: '/x' }));
  const dataDir = await tmpDir(t, 'd7y-disk-');
  const added: DiskStorage[] = [];
  await plugin.register({ config: plugin.parseConfig!({}), dataDir, logger: undefined, storage: { add: (m: DiskStorage) => added.push(m) } } as never);
  t.is(added[0].name, 'disk');
  t.is(added[0].dir, dataDir);
});

test('disk: a daemon killed right after a task finished keeps it whole: pieces are logged before the finished record', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const data = randomBytes(4 * P);
  const taskId = contractTaskId('killed');
  const first = new DiskStorage({ dir });
  await first.start();
  await first.putTask({ taskId, pieceLength: P, contentLength: data.length });
  await Promise.all([0, 1, 2, 3].map((n) => first.writePiece(taskId, { number: n, offset: n * P, length: P }, data.subarray(n * P, (n + 1) * P))));
  t.true((await readAll(await first.readPiece(taskId, 3))).equals(data.subarray(3 * P)), 'a piece is served as soon as it is written');
  await first.putTask({ taskId, pieceLength: P, finished: true });
  const second = await startedDisk(t, dir);
  t.true((await second.getTask(taskId))?.finished, 'the finished record reached the log');
  t.deepEqual((await second.listPieces(taskId)).map((p) => p.number), [0, 1, 2, 3], 'with every piece before it');
  t.true((await readFile(second.taskFilePath(taskId)!)).equals(data));
  await first.stop();
});

test('disk: pieces of an unfinished task reach the log within a moment, without a stop', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const data = randomBytes(2 * P);
  const taskId = contractTaskId('unfinished');
  const first = new DiskStorage({ dir });
  await first.start();
  t.teardown(() => first.stop());
  await first.putTask({ taskId, pieceLength: P, contentLength: 3 * P });
  for (const n of [0, 1]) await first.writePiece(taskId, { number: n, offset: n * P, length: P }, data.subarray(n * P, (n + 1) * P));
  await new Promise((r) => setTimeout(r, 1_000));
  const second = await startedDisk(t, dir);
  t.deepEqual((await second.listPieces(taskId)).map((p) => p.number), [0, 1]);
});

test('disk: a daemon killed within a group commit keeps the pieces it wrote; a written piece whose bytes changed is dropped', async (t) => {
  const { dir, data, taskId, first } = await diskWithPieces(t, 'killed-mid-commit', [0, 1]);
  // Started at once over the same directory, as after kill -9: no stop, no group commit awaited.
  const second = await startedDisk(t, dir);
  t.deepEqual((await second.listPieces(taskId)).map((p) => p.number), [0, 1], 'every piece whose write resolved is kept');
  t.true((await readAll(await second.readPiece(taskId, 1))).equals(data.subarray(P, 2 * P)));
  await second.stop();
  await first.stop();

  // Pieces 2 and 3 logged as written only (the group commit never ran); piece 3's bytes are not the ones written.
  const log = join(dir, 'metadata', 'tasks', taskId.slice(0, 3), `${taskId}.log`);
  const written = (n: number) => `${JSON.stringify({ op: 'written', piece: { number: n, offset: n * P, length: P, digest: pieceDigest(data.subarray(n * P, (n + 1) * P)) } })}\n`;
  await appendFile(log, written(2) + written(3));
  const content = await readFile(first.taskFilePath(taskId)!);
  await writeFile(first.taskFilePath(taskId)!, Buffer.concat([content.subarray(0, 2 * P), data.subarray(2 * P, 3 * P), randomBytes(P)]));
  const third = await startedDisk(t, dir);
  t.deepEqual((await third.listPieces(taskId)).map((p) => p.number), [0, 1, 2], 'the written piece with its bytes is kept, the other dropped');
  t.true((await readAll(await third.readPiece(taskId, 2))).equals(data.subarray(2 * P, 3 * P)));
  await new Promise((r) => setTimeout(r, 500));
  await third.stop();
  t.regex(await readFile(log, 'utf8'), /"op":"piece","piece":\{"number":2,/, 'the kept piece was made durable by the next commit');
});
