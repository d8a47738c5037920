import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutionContext, TestFn } from 'ava';
import type { PieceFeed, PieceInput, PieceRecord, StorageMedium } from '../contracts/storage-medium.js';
import { isD7yError } from '../errors/d7y-error.js';
import { pieceDigest } from '../task/piece-digest.js';

/** A fresh, not yet started medium; the factory registers its own cleanup (tmp dirs) with `t.teardown`. */
export type StorageMediumFactory = (t: ExecutionContext) => Promise<StorageMedium>;

/** A task id in the form d7y uses (sha256 hex), derived from a label. */
export function contractTaskId(label: string): string {
  return createHash('sha256').update(`storage-contract:${label}`).digest('hex');
}

/** Reads a stream to its end into one buffer (test data only: small). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A Readable that yields `data` in `chunkSize` slices, yielding to the event loop between them. */
export function slowStream(data: Buffer, chunkSize = 7 * 1024, pauseEvery = 4): Readable {
  return Readable.from((async function* () {
    for (let i = 0, n = 0; i < data.length; i += chunkSize, n++) {
      if (n % pauseEvery === 0) await delay(0);
      yield data.subarray(i, Math.min(data.length, i + chunkSize));
    }
  })(), { objectMode: false });
}

/**
 * A PieceFeed like a connection's: every chunk is a view of one buffer that is overwritten right
 * after the consumer returns (or after its promise settles); it fails after `failAfter` bytes.
 */
export function reusingFeed(data: Buffer, chunkSize = 48 * 1024 + 5, failAfter?: number): PieceFeed & { destroyed: boolean } {
  const buffer = Buffer.alloc(chunkSize);
  const feed = {
    kind: 'piece-feed' as const,
    destroyed: false,
    async pipe(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
      for (let off = 0; off < data.length; off += chunkSize) {
        if (feed.destroyed) throw new Error('feed destroyed');
        if (failAfter !== undefined && off >= failAfter) throw new Error('connection reset');
        const n = data.copy(buffer, 0, off, Math.min(off + chunkSize, data.length));
        await onChunk(buffer.subarray(0, n));
        buffer.fill(0xee);
      }
    },
    destroy(): void {
      feed.destroyed = true;
    },
  };
  return feed;
}

/**
 * A piece input whose every chunk, and its end, first waits for `hold()` to settle: a stream of
 * fresh chunks, or a feed that reuses one buffer as `reusingFeed` does.
 */
export function heldInput(kind: 'stream' | 'feed', data: Buffer, chunkSize: number, hold: () => Promise<unknown>): PieceInput {
  if (kind === 'stream') {
    return Readable.from((async function* () {
      for (let off = 0; off < data.length; off += chunkSize) {
        await hold();
        yield Buffer.from(data.subarray(off, Math.min(data.length, off + chunkSize)));
      }
      await hold();
    })(), { objectMode: false });
  }
  const buffer = Buffer.alloc(chunkSize);
  return {
    kind: 'piece-feed',
    async pipe(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
      for (let off = 0; off < data.length; off += chunkSize) {
        await hold();
        const n = data.copy(buffer, 0, off, Math.min(off + chunkSize, data.length));
        await onChunk(buffer.subarray(0, n));
        buffer.fill(0xee);
      }
      await hold();
    },
    destroy(): void {},
  };
}

/** What a `readWritten` of a reported prefix gave back. */
interface PrefixCheck {
  bytes: number;
  exact: boolean;
  whileWriting: boolean;
}

/**
 * Watches a piece write: on each `onWritten` it reads the reported prefix back with `readWritten`
 * and holds the input (through `hold`) until that read is done.
 */
function prefixWatcher(medium: StorageMedium, taskId: string, piece: Omit<PieceRecord, 'digest'>, data: Buffer) {
  const seen: number[] = [];
  const checks: Promise<PrefixCheck>[] = [];
  let pending: Promise<unknown> = Promise.resolve();
  const watcher = {
    seen,
    checks,
    writing: true,
    hold: () => pending,
    onWritten: (bytes: number): void => {
      seen.push(bytes);
      const check = (async (): Promise<PrefixCheck> => {
        const back = await readAll(await medium.readWritten!(taskId, piece, { start: 0, length: bytes }));
        return { bytes, exact: back.equals(data.subarray(0, bytes)), whileWriting: watcher.writing };
      })();
      checks.push(check);
      pending = check.catch(() => undefined);
    },
  };
  return watcher;
}

async function started(t: ExecutionContext, factory: StorageMediumFactory): Promise<StorageMedium> {
  const medium = await factory(t);
  await medium.start();
  t.teardown(() => medium.stop());
  return medium;
}

async function withTask(medium: StorageMedium, label: string, pieceLength: number, contentLength?: number): Promise<string> {
  const taskId = contractTaskId(label);
  await medium.putTask({ taskId, pieceLength, contentLength, url: `https://origin.example/${label}` });
  return taskId;
}

export interface StorageMediumContractOptions {
  /** False for a medium without `readWritten` (it never calls `onWritten`): its tests are left out. */
  readWritten?: boolean;
}

/**
 * The behaviour every StorageMedium must show. Call it once from each medium's test file:
 * `storageMediumContract(test, 'disk', async (t) => new DiskStorage({ dir: await tmpDir(t) }))`.
 * The suite starts each medium and stops it in teardown.
 */
export function storageMediumContract(test: TestFn, name: string, factory: StorageMediumFactory, options: StorageMediumContractOptions = {}): void {
  const P = 64 * 1024;
  if (options.readWritten !== false) servesPiecesBeingWritten(test, name, factory);

  test(`${name}: putTask creates a task, updates it, and getTask/listTasks return it`, async (t) => {
    const medium = await started(t, factory);
    const taskId = contractTaskId('put-task');
    const created = await medium.putTask({ taskId, pieceLength: P, url: 'https://origin.example/a' });
    t.is(created.taskId, taskId);
    t.false(created.finished);
    t.is(created.contentLength, undefined);
    t.true(created.createdAt > 0 && created.lastAccessedAt >= created.createdAt);
    const updated = await medium.putTask({ taskId, pieceLength: P, contentLength: 3 * P, finished: true });
    t.true(updated.finished);
    t.is(updated.contentLength, 3 * P);
    t.is(updated.createdAt, created.createdAt);
    t.is(updated.url, 'https://origin.example/a');
    t.deepEqual(await medium.getTask(taskId), updated);
    t.is(await medium.getTask(contractTaskId('never-put')), undefined);
    const other = await withTask(medium, 'put-task-other', P);
    t.deepEqual((await medium.listTasks()).map((r) => r.taskId).sort(), [taskId, other].sort());
  });

  test(`${name}: pieces written from Buffers read back byte-exact, whole and as a sub-range`, async (t) => {
    const medium = await started(t, factory);
    const data = randomBytes(2 * P + 1000);
    const taskId = await withTask(medium, 'round-trip-buffer', P, data.length);
    const records = [];
    for (let n = 0; n < 3; n++) {
      const offset = n * P;
      const bytes = data.subarray(offset, Math.min(data.length, offset + P));
      records.push(await medium.writePiece(taskId, { number: n, offset, length: bytes.length }, bytes, pieceDigest(bytes)));
    }
    t.deepEqual(records.map((r) => r.length), [P, P, 1000]);
    t.is(records[2].digest, pieceDigest(data.subarray(2 * P)));
    for (let n = 0; n < 3; n++) {
      t.true((await readAll(await medium.readPiece(taskId, n))).equals(data.subarray(n * P, Math.min(data.length, (n + 1) * P))));
    }
    const sub = await readAll(await medium.readPiece(taskId, 1, { start: 100, length: 5000 }));
    t.true(sub.equals(data.subarray(P + 100, P + 5100)));
    const tail = await readAll(await medium.readPiece(taskId, 2, { start: 990, length: 10 }));
    t.true(tail.equals(data.subarray(2 * P + 990)));
    await t.throwsAsync(medium.readPiece(taskId, 2, { start: 990, length: 11 }), { code: 'D7Y_INVALID_ARGUMENT' });
  });

  test(`${name}: pieces written from streams read back byte-exact with the digest of their bytes`, async (t) => {
    const medium = await started(t, factory);
    const data = randomBytes(4 * P);
    const taskId = await withTask(medium, 'round-trip-stream', P, data.length);
    for (let n = 0; n < 4; n++) {
      const bytes = data.subarray(n * P, (n + 1) * P);
      const rec = await medium.writePiece(taskId, { number: n, offset: n * P, length: P }, slowStream(bytes));
      t.is(rec.digest, pieceDigest(bytes));
    }
    const all = Buffer.concat(await Promise.all([0, 1, 2, 3].map(async (n) => readAll(await medium.readPiece(taskId, n)))));
    t.true(all.equals(data));
  });

  test(`${name}: pieces written from a feed that reuses its buffer read back byte-exact; a failing feed records nothing`, async (t) => {
    const medium = await started(t, factory);
    const big = 600 * 1024 + 13;
    const data = randomBytes(2 * big);
    const taskId = await withTask(medium, 'round-trip-feed', big, data.length);
    for (let n = 0; n < 2; n++) {
      const bytes = data.subarray(n * big, (n + 1) * big);
      const rec = await medium.writePiece(taskId, { number: n, offset: n * big, length: big }, reusingFeed(bytes), pieceDigest(bytes));
      t.is(rec.digest, pieceDigest(bytes));
    }
    t.true((await readAll(await medium.readPiece(taskId, 0))).equals(data.subarray(0, big)));
    t.true((await readAll(await medium.readPiece(taskId, 1))).equals(data.subarray(big)));
    const other = await withTask(medium, 'failing-feed', big, big);
    const failing = reusingFeed(data.subarray(0, big), 48 * 1024 + 5, 300 * 1024);
    await t.throwsAsync(medium.writePiece(other, { number: 0, offset: 0, length: big }, failing));
    t.false(await medium.hasPiece(other, 0));
    t.true(failing.destroyed);
    const short = reusingFeed(data.subarray(0, big - 1));
    const err = await t.throwsAsync(medium.writePiece(other, { number: 0, offset: 0, length: big }, short));
    t.true(isD7yError(err, 'D7Y_INVALID_ARGUMENT'), String(err));
    t.deepEqual(await medium.listPieces(other), []);
  });

  test(`${name}: a digest mismatch, a short stream or a failing stream records nothing`, async (t) => {
    const medium = await started(t, factory);
    const bytes = randomBytes(P);
    const taskId = await withTask(medium, 'mismatch', P, 2 * P);
    const piece = { number: 0, offset: 0, length: P };
    const wrong = `crc32:${(Number(pieceDigest(bytes).slice(6)) + 1) % 2 ** 32}`;
    const err = await t.throwsAsync(medium.writePiece(taskId, piece, slowStream(bytes), wrong));
    t.true(isD7yError(err, 'D7Y_DIGEST_MISMATCH'), String(err));
    t.false(await medium.hasPiece(taskId, 0));
    t.deepEqual(await medium.listPieces(taskId), []);
    await t.throwsAsync(medium.readPiece(taskId, 0), { code: 'D7Y_PIECE_NOT_FOUND' });

    await t.throwsAsync(medium.writePiece(taskId, piece, slowStream(bytes.subarray(0, P - 1))));
    t.false(await medium.hasPiece(taskId, 0));

    const failing = Readable.from((async function* () {
      yield bytes.subarray(0, 1000);
      await delay(1);
      throw new Error('origin connection reset');
    })());
    await t.throwsAsync(medium.writePiece(taskId, piece, failing));
    t.false(await medium.hasPiece(taskId, 0));
    t.is((await medium.stats()).usedBytes, 0);

    await medium.writePiece(taskId, piece, bytes, pieceDigest(bytes));
    t.true((await readAll(await medium.readPiece(taskId, 0))).equals(bytes));
  });

  test(`${name}: hasPiece and listPieces report exactly the pieces written, in order`, async (t) => {
    const medium = await started(t, factory);
    const taskId = await withTask(medium, 'has-list', P, 5 * P);
    const bytes = randomBytes(P);
    for (const n of [3, 0, 4]) await medium.writePiece(taskId, { number: n, offset: n * P, length: P }, bytes);
    t.deepEqual((await medium.listPieces(taskId)).map((p) => [p.number, p.offset, p.length, p.digest]),
      [0, 3, 4].map((n) => [n, n * P, P, pieceDigest(bytes)]));
    t.true(await medium.hasPiece(taskId, 3));
    t.false(await medium.hasPiece(taskId, 1));
    t.false(await medium.hasPiece(contractTaskId('unknown'), 0));
    t.deepEqual(await medium.listPieces(contractTaskId('unknown')), []);
    const again = await medium.writePiece(taskId, { number: 3, offset: 3 * P, length: P }, bytes);
    t.is(again.digest, pieceDigest(bytes));
    t.is((await medium.listPieces(taskId)).length, 3);
  });

  test(`${name}: many pieces of one task written concurrently from streams all read back`, async (t) => {
    const medium = await started(t, factory);
    const count = 24;
    const data = randomBytes(count * P);
    const taskId = await withTask(medium, 'concurrent', P, data.length);
    const order = [...Array(count).keys()].sort(() => Math.random() - 0.5);
    await Promise.all(order.map((n) => {
      const bytes = data.subarray(n * P, (n + 1) * P);
      return medium.writePiece(taskId, { number: n, offset: n * P, length: P }, slowStream(bytes, 3000 + n * 97), pieceDigest(bytes));
    }));
    t.is((await medium.listPieces(taskId)).length, count);
    const back = Buffer.concat(await Promise.all([...Array(count).keys()].map(async (n) => readAll(await medium.readPiece(taskId, n)))));
    t.true(back.equals(data));
  });

  test(`${name}: deleteTask removes the task and its pieces, and stats follow`, async (t) => {
    const medium = await started(t, factory);
    const before = await medium.stats();
    t.is(before.taskCount, 0);
    const keep = await withTask(medium, 'keep', P, 2 * P);
    const drop = await withTask(medium, 'drop', P, 2 * P);
    const bytes = randomBytes(P);
    for (const id of [keep, drop]) {
      for (const n of [0, 1]) await medium.writePiece(id, { number: n, offset: n * P, length: P }, bytes);
    }
    const full = await medium.stats();
    t.is(full.taskCount, 2);
    t.is(full.usedBytes - before.usedBytes, 4 * P);
    t.true(full.freeBytes >= 0);
    await medium.deleteTask(drop);
    await medium.deleteTask(contractTaskId('never-existed'));
    t.is(await medium.getTask(drop), undefined);
    t.false(await medium.hasPiece(drop, 0));
    const err = await t.throwsAsync(medium.readPiece(drop, 0));
    t.true(isD7yError(err, 'D7Y_PIECE_NOT_FOUND') || isD7yError(err, 'D7Y_TASK_NOT_FOUND'), String(err));
    const after = await medium.stats();
    t.is(after.taskCount, 1);
    t.is(full.usedBytes - after.usedBytes, 2 * P);
    t.true((await readAll(await medium.readPiece(keep, 1))).equals(bytes));
  });

  test(`${name}: unknown pieces and tasks are refused with clear codes`, async (t) => {
    const medium = await started(t, factory);
    const taskId = await withTask(medium, 'unknown-piece', P, 2 * P);
    const err = await t.throwsAsync(medium.readPiece(taskId, 1));
    t.true(isD7yError(err, 'D7Y_PIECE_NOT_FOUND'), String(err));
    t.regex(err!.message, /piece 1/);
    const bytes = randomBytes(100);
    const write = await t.throwsAsync(medium.writePiece(contractTaskId('no-such-task'), { number: 0, offset: 0, length: 100 }, bytes));
    t.true(isD7yError(write, 'D7Y_TASK_NOT_FOUND'), String(write));
  });
}

/** `readWritten` and `onWritten`: a piece passed on while it is written. */
function servesPiecesBeingWritten(test: TestFn, name: string, factory: StorageMediumFactory): void {
  const L = 2 * 1024 * 1024 + 13;

  for (const [kind, chunkSize] of [['stream', 48 * 1024], ['feed', 300 * 1024 + 7]] as const) {
    test(`${name}: while a slow ${kind} is written, onWritten grows to the piece length and every reported prefix reads back byte-exact while the write goes on`, async (t) => {
      const medium = await started(t, factory);
      const data = randomBytes(L);
      const taskId = await withTask(medium, `cut-through-${kind}`, L, L);
      const piece = { number: 0, offset: 0, length: L };
      const watch = prefixWatcher(medium, taskId, piece, data);
      let early: Promise<unknown> | undefined;
      const onWritten = (bytes: number): void => {
        if (!early && bytes < L) early = medium.readWritten!(taskId, piece, { start: 0, length: bytes + 1 }).then(() => 'served', (err: unknown) => err);
        watch.onWritten(bytes);
      };
      const rec = await medium.writePiece(taskId, piece, heldInput(kind, data, chunkSize, watch.hold), pieceDigest(data), { onWritten })
        .finally(() => { watch.writing = false; });
      const checks = await Promise.all(watch.checks);
      t.is(rec.digest, pieceDigest(data));
      t.true(watch.seen.length >= 3, `reported as batches land, not only at the end: ${watch.seen.join(', ')}`);
      t.true(watch.seen.every((bytes, i) => i === 0 || bytes >= watch.seen[i - 1]), `never decreases: ${watch.seen.join(', ')}`);
      t.is(watch.seen.at(-1), L);
      t.deepEqual(checks.filter((c) => !c.exact).map((c) => c.bytes), [], 'every reported prefix reads back byte-exact');
      t.true(checks.filter((c) => c.whileWriting).length >= 2, 'prefixes were read back while the piece was still being written');
      const refused = await early;
      t.true(isD7yError(refused, 'D7Y_INVALID_ARGUMENT'), `bytes past the reported prefix are refused: ${String(refused)}`);
      t.true((await readAll(await medium.readPiece(taskId, 0))).equals(data));
    });
  }

  test(`${name}: readWritten serves a held piece and its sub-ranges, and refuses unknown pieces and ranges outside the piece`, async (t) => {
    const medium = await started(t, factory);
    const P = 64 * 1024;
    const data = randomBytes(2 * P);
    const taskId = await withTask(medium, 'read-written-held', P, data.length);
    const piece = { number: 0, offset: 0, length: P };
    const seen: number[] = [];
    await medium.writePiece(taskId, piece, data.subarray(0, P), pieceDigest(data.subarray(0, P)), { onWritten: (bytes) => seen.push(bytes) });
    t.is(seen.at(-1), P, 'a Buffer write reports the whole piece');
    t.true((await readAll(await medium.readWritten!(taskId, piece, { start: 0, length: P }))).equals(data.subarray(0, P)));
    t.true((await readAll(await medium.readWritten!(taskId, piece, { start: 100, length: 5000 }))).equals(data.subarray(100, 5100)));
    t.is((await readAll(await medium.readWritten!(taskId, piece, { start: P, length: 0 }))).length, 0);
    const missing = await t.throwsAsync(medium.readWritten!(taskId, { number: 1, offset: P, length: P }, { start: 0, length: 10 }));
    t.true(isD7yError(missing, 'D7Y_PIECE_NOT_FOUND'), String(missing));
    t.regex(missing!.message, /piece 1/);
    await t.throwsAsync(medium.readWritten!(contractTaskId('no-such-task'), piece, { start: 0, length: 10 }), { code: 'D7Y_PIECE_NOT_FOUND' });
    await t.throwsAsync(medium.readWritten!(taskId, piece, { start: -1, length: 10 }), { code: 'D7Y_INVALID_ARGUMENT', message: /range start -1/ });
    await t.throwsAsync(medium.readWritten!(taskId, piece, { start: P - 10, length: 11 }), { code: 'D7Y_INVALID_ARGUMENT', message: /outside piece 0/ });
    await t.throwsAsync(medium.readWritten!(taskId, { number: 0, offset: P, length: P }, { start: 0, length: 10 }), { code: 'D7Y_INVALID_ARGUMENT', message: /offset 0/ });
  });

  test(`${name}: a piece whose write fails is readable while written, then not at all, and nothing is reported after the failure`, async (t) => {
    const medium = await started(t, factory);
    const data = randomBytes(L);
    const taskId = await withTask(medium, 'read-written-failed', L, L);
    const piece = { number: 0, offset: 0, length: L };
    const wrong = `crc32:${(Number(pieceDigest(data).slice(6)) + 1) % 2 ** 32}`;
    const watch = prefixWatcher(medium, taskId, piece, data);
    const err = await t.throwsAsync(medium.writePiece(taskId, piece, heldInput('stream', data, 48 * 1024, watch.hold), wrong, { onWritten: watch.onWritten }));
    t.true(isD7yError(err, 'D7Y_DIGEST_MISMATCH'), String(err));
    const checks = await Promise.all(watch.checks);
    t.true(checks.filter((c) => c.whileWriting).length >= 2 && checks.every((c) => c.exact), 'the bytes were served while they were written');
    await t.throwsAsync(medium.readWritten!(taskId, piece, { start: 0, length: watch.seen[0] }), { code: 'D7Y_PIECE_NOT_FOUND' });
    t.false(await medium.hasPiece(taskId, 0));

    const cut = 600 * 1024;
    const reported: number[] = [];
    const failing = Readable.from((async function* () {
      for (let off = 0; off < cut; off += 48 * 1024) yield Buffer.from(data.subarray(off, off + 48 * 1024));
      throw new Error('parent connection reset');
    })());
    await t.throwsAsync(medium.writePiece(taskId, piece, failing, undefined, { onWritten: (bytes) => reported.push(bytes) }), { message: /connection reset/ });
    const atFailure = reported.length;
    await delay(50);
    t.is(reported.length, atFailure, 'no report after the write failed');
    t.true(reported.every((bytes) => bytes <= cut));
    await t.throwsAsync(medium.readWritten!(taskId, piece, { start: 0, length: 1 }), { code: 'D7Y_PIECE_NOT_FOUND' });
    t.deepEqual(await medium.listPieces(taskId), []);
  });
}
