import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { D7yError, pieceDigest, type WrittenProgress } from '../../core/index.js';
import { contractTaskId, heldInput, readAll } from '../../core/testing/storage-medium-contract.js';
import { tmpDir } from '../../test/support/env.js';
import { DiskStorage } from './disk-storage.js';

/** A piece write as a relay sees it, fed by the write's onWritten and its end (as ReceivingPiece is). */
class Progress implements WrittenProgress {
  written = 0;
  done = false;
  error: Error | undefined;
  /** The signals `more` was given, to see a destroyed reader stop waiting. */
  readonly signals: AbortSignal[] = [];
  private waiters: (() => void)[] = [];

  advance(bytes: number): void {
    this.written = bytes;
    this.wake();
  }

  end(err?: Error): void {
    if (err) this.error = err;
    else this.done = true;
    this.wake();
  }

  more(seen: number, signal?: AbortSignal): Promise<void> {
    if (signal) this.signals.push(signal);
    if (this.written > seen || this.done || this.error) return Promise.resolve();
    return new Promise((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      this.waiters.push(resolve);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

async function startedDisk(t: ExecutionContext, opts: { encrypted?: boolean } = {}): Promise<DiskStorage> {
  const dir = await tmpDir(t, 'd7y-disk-');
  let encryption: { keyFile: string } | undefined;
  if (opts.encrypted) {
    const keyFile = join(dir, 'key');
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    encryption = { keyFile };
  }
  const disk = new DiskStorage({ dir: join(dir, 'data'), encryption });
  await disk.start();
  t.teardown(() => disk.stop());
  return disk;
}

const L = 2 * 1024 * 1024 + 13;

test('followWritten gives a piece as its batches are written, in one stream that waits for each, and ends with the piece', async (t) => {
  const disk = await startedDisk(t);
  const data = randomBytes(L);
  const taskId = contractTaskId('follow');
  await disk.putTask({ taskId, pieceLength: L, contentLength: L, url: 'https://origin.example/follow' });
  const piece = { number: 0, offset: 0, length: L };
  const progress = new Progress();
  let writing = true;
  let gate: () => void = () => undefined;
  let opened: Promise<import('../../core/index.js').PieceReadable | undefined> | undefined;
  const received: { bytes: number; whileWriting: boolean }[] = [];
  let collected: Promise<Buffer> | undefined;
  // The input waits at each 48 KiB chunk until the follower has caught up with what was written.
  const hold = (): Promise<void> => new Promise((resolve) => { gate = resolve; setTimeout(resolve, 5); });
  const write = disk.writePiece(taskId, piece, heldInput('stream', data, 48 * 1024, hold), pieceDigest(data), {
    onWritten: (bytes) => {
      progress.advance(bytes);
      if (!opened) {
        opened = disk.followWritten(taskId, piece, { start: 0, length: L }, progress);
        // Chunk by chunk as pushed ('data', as a pipe reads it): an async iterator would join them.
        collected = opened.then((s) => new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          s!.on('data', (c: Buffer) => {
            chunks.push(Buffer.from(c));
            received.push({ bytes: c.length, whileWriting: writing });
            s!.recycle?.(c);
            gate();
          });
          s!.once('end', () => resolve(Buffer.concat(chunks)));
          s!.once('error', reject);
        }));
      }
    },
  }).then((rec) => { writing = false; progress.end(); return rec; });
  await write;
  t.truthy(opened, 'the follower was opened after the first batch landed');
  const back = await collected!;
  t.true(back.equals(data), 'every byte of the piece, in order');
  t.true(received.filter((r) => r.whileWriting).length >= 2, `bytes were given while the piece was still being written: ${received.map((r) => `${r.bytes}${r.whileWriting ? 'w' : ''}`).join(' ')}`);
  t.true(received.every((r) => r.bytes <= 256 * 1024), 'chunks are at most one pooled buffer');
  t.true(progress.signals.length >= 1, 'it waited for more bytes at least once');
});

test('followWritten fails with the write\'s error, stops waiting when destroyed, refuses ranges outside the piece, and declines encrypted pieces', async (t) => {
  const disk = await startedDisk(t);
  const P = 512 * 1024;
  const data = randomBytes(2 * P);
  const taskId = contractTaskId('follow-errors');
  await disk.putTask({ taskId, pieceLength: P, contentLength: data.length, url: 'https://origin.example/follow-errors' });
  const piece = { number: 0, offset: 0, length: P };
  await disk.writePiece(taskId, piece, data.subarray(0, P), pieceDigest(data.subarray(0, P)));

  const failing = new Progress();
  failing.advance(100 * 1024);
  const stream = (await disk.followWritten(taskId, piece, { start: 0, length: P }, failing))!;
  const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
  t.true(first.equals(data.subarray(0, 100 * 1024)), 'the bytes written so far come first');
  const lost = new D7yError('D7Y_PEER_UNAVAILABLE', 'the parent went away');
  const failed = new Promise<Error>((resolve) => stream.once('error', resolve));
  failing.end(lost);
  t.is(await failed, lost);

  const waiting = new Progress();
  const idle = (await disk.followWritten(taskId, piece, { start: 1000, length: 2000 }, waiting))!;
  idle.resume();
  await new Promise((r) => setTimeout(r, 20));
  t.is(waiting.signals.length, 1, 'it waits for the first byte');
  idle.destroy();
  await new Promise((r) => setTimeout(r, 0));
  t.true(waiting.signals[0]!.aborted, 'a destroyed follower stops waiting');

  const held = new Progress();
  held.end();
  t.true((await readAll((await disk.followWritten(taskId, piece, { start: 100, length: 5000 }, held))!)).equals(data.subarray(100, 5100)), 'a sub-range of a held piece');
  await t.throwsAsync(disk.followWritten(taskId, piece, { start: -1, length: 10 }, held), { code: 'D7Y_INVALID_ARGUMENT', message: /range start -1/ });
  await t.throwsAsync(disk.followWritten(taskId, piece, { start: P - 10, length: 11 }, held), { code: 'D7Y_INVALID_ARGUMENT', message: /outside piece 0/ });
  await t.throwsAsync(disk.followWritten(taskId, { number: 1, offset: P, length: P }, { start: 0, length: 10 }, held), { code: 'D7Y_PIECE_NOT_FOUND' });

  const sealed = await startedDisk(t, { encrypted: true });
  await sealed.putTask({ taskId, pieceLength: P, contentLength: data.length, url: 'https://origin.example/follow-errors' });
  await sealed.writePiece(taskId, piece, data.subarray(0, P), pieceDigest(data.subarray(0, P)));
  t.is(await sealed.followWritten(taskId, piece, { start: 0, length: P }, held), undefined, 'encrypted pieces are read through readWritten instead');
});
