import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { pieceDigest, type D7yError } from '../../core/index.js';
import { contractTaskId, readAll, slowStream, storageMediumContract } from '../../core/testing/storage-medium-contract.js';
import { tmpDir } from '../../test/support/env.js';
import { DiskStorage } from './disk-storage.js';

const P = 64 * 1024;

async function keyFile(t: ExecutionContext): Promise<string> {
  const file = join(await tmpDir(t, 'd7y-key-'), 'piece.key');
  await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return file;
}

storageMediumContract(test, 'disk (encrypted)', async (t) => new DiskStorage({ dir: await tmpDir(t, 'd7y-disk-'), encryption: { keyFile: await keyFile(t) } }));

async function started(t: ExecutionContext, dir: string, key: string): Promise<DiskStorage> {
  const disk = new DiskStorage({ dir, encryption: { keyFile: key } });
  await disk.start();
  t.teardown(() => disk.stop());
  return disk;
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesUnder(p));
    else out.push(p);
  }
  return out;
}

async function storeTask(disk: DiskStorage, taskId: string, data: Buffer): Promise<void> {
  await disk.putTask({ taskId, url: 'https://origin.example/secret', pieceLength: P, contentLength: data.length });
  for (let n = 0; n * P < data.length; n++) {
    const bytes = data.subarray(n * P, Math.min(data.length, (n + 1) * P));
    await disk.writePiece(taskId, { number: n, offset: n * P, length: bytes.length }, slowStream(bytes), pieceDigest(bytes));
  }
  await disk.putTask({ taskId, pieceLength: P, finished: true });
}

test('encrypted disk: the content file holds no plain bytes and no key, reads give the plain bytes, records keep the plain digest and no seal', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const key = await keyFile(t);
  const disk = await started(t, dir, key);
  const data = randomBytes(3 * P + 11);
  const taskId = contractTaskId('sealed');
  await storeTask(disk, taskId, data);
  t.is(disk.taskFilePath(taskId), undefined, 'no reader outside the medium gets the encrypted file');
  t.deepEqual(await readAll(await disk.readPiece(taskId, 1)), data.subarray(P, 2 * P));
  t.deepEqual(await readAll(await disk.readPiece(taskId, 3, { start: 5, length: 6 })), data.subarray(3 * P + 5, 3 * P + 11));
  const pieces = await disk.listPieces(taskId);
  t.is(pieces[0]!.digest, pieceDigest(data.subarray(0, P)), 'the piece check is on the plain bytes');
  t.false('seal' in pieces[0]!);
  await disk.stop();
  const keyText = (await readFile(key, 'utf8')).trim();
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file);
    t.is(bytes.indexOf(data.subarray(0, 32)), -1, `${file} holds no plain bytes`);
    t.is(bytes.indexOf(Buffer.from(keyText)), -1, `${file} holds no key`);
    t.is(bytes.indexOf(Buffer.from(keyText, 'hex')), -1, `${file} holds no raw key`);
  }
  const again = await started(t, dir, key);
  t.deepEqual(await readAll(await again.readPiece(taskId, 0)), data.subarray(0, P), 'a restart with the same key reads them back');
});

test('encrypted disk: another key, or a byte changed on disk, is a storage error naming the cause, never wrong bytes', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const data = randomBytes(2 * P);
  const taskId = contractTaskId('wrong-key');
  const first = await started(t, dir, await keyFile(t));
  await storeTask(first, taskId, data);
  await first.stop();

  const other = await started(t, dir, await keyFile(t));
  const wrong = await t.throwsAsync(other.readPiece(taskId, 0)) as D7yError;
  t.is(wrong.code, 'D7Y_STORAGE_ERROR');
  t.regex(wrong.message, /was encrypted with another key \(id [0-9a-f]{8}\) than the one in .*piece\.key/);
  t.regex(wrong.fix ?? '', /keyFile the pieces were written with/);
  await other.stop();

  const key = await keyFile(t);
  const dir2 = await tmpDir(t, 'd7y-disk-');
  const disk = await started(t, dir2, key);
  await storeTask(disk, taskId, data);
  const file = join(dir2, 'content', 'tasks', taskId.slice(0, 3), taskId);
  const bytes = await readFile(file);
  bytes[P + 100] ^= 0x01;
  await writeFile(file, bytes);
  t.deepEqual(await readAll(await disk.readPiece(taskId, 0)), data.subarray(0, P), 'an untouched piece still reads');
  const changed = await t.throwsAsync(async () => readAll(await disk.readPiece(taskId, 1))) as D7yError;
  t.is(changed.code, 'D7Y_STORAGE_ERROR');
  t.regex(changed.message, /piece 1 of task .* fails its authentication check .*: its bytes changed on disk/);
});

test('encrypted disk: a piece of several hundred KiB written in one chunk reads back byte-exact in ranges across its slices; a byte changed at its end fails a read of its start', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const disk = await started(t, dir, await keyFile(t));
  const big = 600 * 1024 + 7;
  const data = randomBytes(big);
  const taskId = contractTaskId('big-piece');
  await disk.putTask({ taskId, url: 'https://origin.example/big', pieceLength: big, contentLength: big });
  await disk.writePiece(taskId, { number: 0, offset: 0, length: big }, Readable.from([data]), pieceDigest(data));
  t.deepEqual(await readAll(await disk.readPiece(taskId, 0)), data);
  for (const [start, length] of [[0, 1], [65_535, 2], [262_143, 262_146], [big - 9, 9], [100_000, 400_000]] as const) {
    t.deepEqual(await readAll(await disk.readPiece(taskId, 0, { start, length })), data.subarray(start, start + length), `bytes ${start}+${length}`);
  }
  const file = join(dir, 'content', 'tasks', taskId.slice(0, 3), taskId);
  const bytes = await readFile(file);
  bytes[big - 1] ^= 0x80;
  await writeFile(file, bytes);
  const changed = await t.throwsAsync(async () => readAll(await disk.readPiece(taskId, 0, { start: 0, length: 10 }))) as D7yError;
  t.regex(changed.message, /fails its authentication check/);
});

test('encrypted disk: a missing or malformed key file stops the start with the fix', async (t) => {
  const dir = await tmpDir(t, 'd7y-disk-');
  const missing = new DiskStorage({ dir, encryption: { keyFile: join(dir, 'nope.key') } });
  const e1 = await t.throwsAsync(missing.start()) as D7yError;
  t.regex(e1.message, /encryption\.keyFile .*nope\.key cannot be read: ENOENT/);
  t.regex(e1.fix ?? '', /openssl rand -hex 32/);
  const short = join(dir, 'short.key');
  await writeFile(short, 'abc\n', { mode: 0o600 });
  const e2 = await t.throwsAsync(new DiskStorage({ dir, encryption: { keyFile: short } }).start()) as D7yError;
  t.regex(e2.message, /does not hold a 256-bit key/);
  t.is((await stat(short)).mode & 0o777, 0o600);
});
