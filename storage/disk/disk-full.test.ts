import { execFile as execFileCb } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, symlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { isD7yError, pieceDigest } from '../../core/index.js';
import { contractTaskId, readAll, slowStream } from '../../core/testing/storage-medium-contract.js';
import { tmpDir } from '../../test/support/env.js';
import { DiskStorage, type DiskStorageOptions } from './disk-storage.js';

const execFile = promisify(execFileCb);
const K = 1024;
const P = 256 * K;

/** Mounts a tmpfs of `size` on a fresh directory, unmounted in teardown; undefined when mounting is refused. */
async function smallTmpfs(t: ExecutionContext, size: string): Promise<string | undefined> {
  const dir = await tmpDir(t, 'd7y-full-');
  try {
    await execFile('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { timeout: 10_000 });
  } catch (err) {
    t.log(`mounting a tmpfs was refused (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  t.teardown(() => execFile('umount', [dir], { timeout: 10_000 }).catch(() => execFile('umount', ['-l', dir], { timeout: 10_000 })));
  return dir;
}

async function startedDisk(t: ExecutionContext, options: DiskStorageOptions): Promise<DiskStorage> {
  const disk = new DiskStorage(options);
  await disk.start();
  t.teardown(() => disk.stop());
  return disk;
}

function assertFull(t: ExecutionContext, err: unknown, dir: string): void {
  t.true(isD7yError(err, 'D7Y_STORAGE_FULL'), String(err));
  t.regex((err as Error).message, new RegExp(`disk storage at ${dir} is full \\((ENOSPC|EDQUOT)\\)`));
  t.regex((err as { fix?: string }).fix ?? '', /free space/);
}

/** ENOSPC injected through the file system: the task's content file is a symlink to /dev/full. */
async function devFullScenario(t: ExecutionContext): Promise<void> {
  const dir = await tmpDir(t, 'd7y-devfull-');
  const disk = await startedDisk(t, { dir });
  const taskId = contractTaskId('dev-full');
  await disk.putTask({ taskId, pieceLength: P, contentLength: P });
  await mkdir(dirname(disk.taskFilePath(taskId)!), { recursive: true });
  await symlink('/dev/full', disk.taskFilePath(taskId)!);
  const err = await t.throwsAsync(disk.writePiece(taskId, { number: 0, offset: 0, length: P }, slowStream(randomBytes(P))));
  assertFull(t, err, dir);
  t.false(await disk.hasPiece(taskId, 0));
  await disk.stop();
  const again = await startedDisk(t, { dir });
  t.deepEqual(await again.listPieces(taskId), []);
}

test('disk full on a real 2 MiB tmpfs: D7Y_STORAGE_FULL names the directory, and after restart only byte-correct pieces are recorded', async (t) => {
  const dir = await smallTmpfs(t, '2m');
  if (!dir) {
    t.log('ran the /dev/full fallback instead of the tmpfs');
    await devFullScenario(t);
    return;
  }
  t.log(`ran on a tmpfs mounted at ${dir}`);
  const data = randomBytes(16 * P);
  const filler = contractTaskId('filler');
  const taskId = contractTaskId('overflow');
  const first = await startedDisk(t, { dir });
  await first.putTask({ taskId: filler, pieceLength: P, contentLength: 4 * P, finished: true });
  for (let n = 0; n < 4; n++) await first.writePiece(filler, { number: n, offset: n * P, length: P }, randomBytes(P));
  await first.putTask({ taskId, pieceLength: P, contentLength: data.length });
  const slice = (n: number) => data.subarray(n * P, (n + 1) * P);
  let failed: number | undefined;
  let err: unknown;
  for (let n = 0; n < 16 && failed === undefined; n++) {
    await first.writePiece(taskId, { number: n, offset: n * P, length: P }, slowStream(slice(n), 64 * K), pieceDigest(slice(n))).catch((e: unknown) => {
      failed = n;
      err = e;
    });
  }
  t.not(failed, undefined, 'a 2 MiB file system cannot hold 5 MiB');
  t.log(`piece ${failed} failed: ${(err as Error).message}`);
  assertFull(t, err, dir);
  t.false(await first.hasPiece(taskId, failed!));
  await first.stop();

  const second = await startedDisk(t, { dir });
  const listed = await second.listPieces(taskId);
  t.false(listed.some((p) => p.number >= failed!), 'no piece from the failed write on is recorded');
  for (const p of listed) t.true((await readAll(await second.readPiece(taskId, p.number))).equals(slice(p.number)), `piece ${p.number} is byte-correct`);
  await second.deleteTask(filler);
  await second.writePiece(taskId, { number: failed!, offset: failed! * P, length: P }, slowStream(slice(failed!)), pieceDigest(slice(failed!)));
  t.true((await readAll(await second.readPiece(taskId, failed!))).equals(slice(failed!)), 'space freed: the piece is written again');
});

test('disk full injected through the file system (/dev/full) maps ENOSPC to D7Y_STORAGE_FULL and records nothing', async (t) => {
  await devFullScenario(t);
});

test('disk GC watermarks measure the file system when no quota is set', async (t) => {
  const dir = await smallTmpfs(t, '4m');
  if (!dir) {
    t.log('tmpfs refused: checked the watermark on the quota instead');
    const disk = await startedDisk(t, { dir: await tmpDir(t), quota: 4 * 1024 * K, now: () => 10_000, gc: { highWatermark: 50, lowWatermark: 30, taskTtl: 1e9 } });
    await fillAndCollect(t, disk);
    return;
  }
  const disk = await startedDisk(t, { dir, now: () => 10_000, gc: { highWatermark: 50, lowWatermark: 30, taskTtl: 1e9 } });
  await fillAndCollect(t, disk);
});

async function fillAndCollect(t: ExecutionContext, disk: DiskStorage): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const taskId = contractTaskId(`fs-watermark-${i}`);
    await disk.putTask({ taskId, pieceLength: 512 * K, contentLength: 512 * K });
    await disk.writePiece(taskId, { number: 0, offset: 0, length: 512 * K }, randomBytes(512 * K));
    await disk.putTask({ taskId, pieceLength: 512 * K, finished: true, lastAccessedAt: 1000 + i });
    ids.push(taskId);
  }
  const report = await disk.gc();
  t.deepEqual(report.evicted.map((e) => e.taskId), ids.slice(0, report.evicted.length), 'oldest first');
  t.true(report.evicted.length >= 3 && report.evicted.length <= 4, `evicted ${report.evicted.length}`);
  t.true((await disk.stats()).usedBytes <= 2 * 512 * K);
}
