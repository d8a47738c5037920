import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pieceBuffers } from '../../core/index.js';
import { ContentFile } from './content-file.js';
import { InlineIo } from './inline-io.js';

test('a copying writer fed whole batches and then a partial one lands every byte at its place and reports each batch', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-content-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = await ContentFile.open(join(dir, 'content'));
  const batch = pieceBuffers.size;
  const data = randomBytes(batch * 2 + 1000);
  const reported: number[] = [];
  const writer = file.copyingWriter(4096, (bytes) => reported.push(bytes));
  // The chunk is reused after each push, as a Vortex feed's gather buffer is: a writer that kept it would write garbage.
  const chunk = Buffer.alloc(batch);
  for (let off = 0; off < data.length; off += batch) {
    const n = data.copy(chunk, 0, off, Math.min(off + batch, data.length));
    await writer.push(n === batch ? chunk : chunk.subarray(0, n));
    chunk.fill(0xee);
  }
  await writer.flush();
  await file.close();
  const written = await readFile(join(dir, 'content'));
  t.true(written.subarray(4096).equals(data), 'the bytes are the piece\'s, at the writer\'s offset');
  t.deepEqual(reported, [batch, batch * 2, data.length]);
});

/** A content file whose writes go to the threadpool: its InlineIo saw a call blocked for 120 ms on a fake clock that then stops. */
async function threadpoolFile(t: { teardown(fn: () => Promise<void>): void; false(v: boolean): void }): Promise<{ path: string; file: ContentFile }> {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-content-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'content');
  await writeFile(path, 'x');
  let clock = 0;
  let step = 120;
  const io = new InlineIo(() => (clock += step), () => 0);
  const fd = openSync(path, 'r');
  io.read(fd, Buffer.alloc(1), 1, 0);
  closeSync(fd);
  step = 0;
  t.false(io.inline);
  return { path, file: await ContentFile.open(path, io) };
}

test('on the threadpool a copying writer keeps reading while four batches are queued to be written, and lands every byte', async (t) => {
  const { path, file } = await threadpoolFile(t);
  const batch = pieceBuffers.size;
  const data = randomBytes(batch * 6 + 77);
  const reported: number[] = [];
  const writer = file.copyingWriter(0, (bytes) => reported.push(bytes));
  const waits: boolean[] = [];
  const chunk = Buffer.alloc(batch);
  for (let off = 0; off < data.length; off += batch) {
    const n = data.copy(chunk, 0, off, Math.min(off + batch, data.length));
    const wrote = writer.push(n === batch ? chunk : chunk.subarray(0, n));
    waits.push(wrote !== undefined);
    chunk.fill(0xee);
    await wrote;
  }
  await writer.flush();
  await file.close();
  t.deepEqual(waits.slice(0, 3), [false, false, false], 'the first three batches are written while the feed goes on');
  t.true(waits[3], 'the fourth batch in flight makes the feed wait');
  t.true((await readFile(path)).equals(data), 'every byte at its place, though the chunk was reused after each push');
  t.is(reported.at(-1), data.length, 'the whole piece is reported landed');
  t.deepEqual(reported, [...reported].sort((a, b) => a - b), 'the landed prefix only grows');
});

test('a write that fails on the threadpool rejects the writer\'s flush with the file system\'s error', async (t) => {
  const { file } = await threadpoolFile(t);
  const reported: number[] = [];
  const writer = file.copyingWriter(0, (bytes) => reported.push(bytes));
  await file.close();
  t.is(writer.push(randomBytes(pieceBuffers.size)), undefined, 'the batch went to the threadpool');
  await t.throwsAsync(writer.flush(), { code: 'EBADF' });
  await t.throwsAsync(async () => writer.push(randomBytes(10)), { code: 'EBADF' }, 'a later push is refused too');
  t.deepEqual(reported, [], 'nothing is reported landed');
});

test('on the threadpool the writes of pieces written side by side go one at a time, a failed one does not hold up the rest, and every byte lands', async (t) => {
  const { path, file } = await threadpoolFile(t);
  const batch = pieceBuffers.size;
  const pieceLength = batch * 3 + 5;
  // The file's handle, watched: how many writes run at once, and the first one fails as a full disk would.
  const handle = (file as unknown as { handle: { writev: (b: Buffer[], at: number) => Promise<{ bytesWritten: number }> } }).handle;
  const writev = handle.writev.bind(handle);
  let running = 0;
  let most = 0;
  let calls = 0;
  handle.writev = async (buffers, at) => {
    calls += 1;
    running += 1;
    most = Math.max(most, running);
    try {
      if (calls === 1) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      return await writev(buffers, at);
    } finally {
      running -= 1;
    }
  };
  const pieces = [0, 1, 2, 3].map((n) => ({ n, data: randomBytes(pieceLength) }));
  const results = await Promise.allSettled(pieces.map(async ({ n, data }) => {
    const writer = file.copyingWriter(n * pieceLength);
    const chunk = Buffer.alloc(batch);
    for (let off = 0; off < data.length; off += batch) {
      const k = data.copy(chunk, 0, off, Math.min(off + batch, data.length));
      await writer.push(k === batch ? chunk : chunk.subarray(0, k));
    }
    await writer.flush();
  }));
  await file.close();
  t.is(most, 1, 'no two writes of the file ran at once');
  t.like(results[0], { status: 'rejected', reason: { code: 'ENOSPC' } }, 'the piece whose write failed is refused');
  const written = await readFile(path);
  for (const { n, data } of pieces.slice(1)) {
    t.is(results[n]!.status, 'fulfilled', `piece ${n} was written`);
    t.true(written.subarray(n * pieceLength, (n + 1) * pieceLength).equals(data), `piece ${n}'s bytes are at its place`);
  }
});
