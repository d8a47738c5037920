import '../../core/metadata-polyfill.js';
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { PieceInput, PieceReadable, PieceRecord, StorageMedium, StorageStats, TaskRecord, WritePieceOptions } from '../../core/contracts/storage-medium.js';
import { isD7yError } from '../../core/errors/d7y-error.js';
import { silentLogger } from '../../core/logging/logger.js';
import { StorageRegistry } from '../../core/registry/storage-registry.js';
import { TaskMediumRouter } from '../../core/roles/peer/tasks/task-medium-router.js';
import { pieceDigest } from '../../core/task/piece-digest.js';
import { heldInput, readAll } from '../../core/testing/storage-medium-contract.js';
import { MemoryStorage } from '../../storage/memory/memory-storage.js';

/** A medium that knows neither feeds nor `readWritten`; it records the options each write was given. */
class PlainMedium implements StorageMedium {
  readonly name = 'plain';
  readonly options: (WritePieceOptions | undefined)[] = [];
  private readonly inner = new MemoryStorage({ capacity: 64 * 1024 * 1024, logger: silentLogger() });
  start(): Promise<void> { return this.inner.start(); }
  stop(): Promise<void> { return this.inner.stop(); }
  putTask(record: Parameters<StorageMedium['putTask']>[0]): Promise<TaskRecord> { return this.inner.putTask(record); }
  getTask(taskId: string): Promise<TaskRecord | undefined> { return this.inner.getTask(taskId); }
  listTasks(): Promise<TaskRecord[]> { return this.inner.listTasks(); }
  writePiece(taskId: string, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest?: string, opts?: WritePieceOptions): Promise<PieceRecord> {
    this.options.push(opts);
    return this.inner.writePiece(taskId, piece, data, expectedDigest);
  }
  readPiece(taskId: string, pieceNumber: number, range?: { start: number; length: number }): Promise<PieceReadable> { return this.inner.readPiece(taskId, pieceNumber, range); }
  hasPiece(taskId: string, pieceNumber: number): Promise<boolean> { return this.inner.hasPiece(taskId, pieceNumber); }
  listPieces(taskId: string): Promise<PieceRecord[]> { return this.inner.listPieces(taskId); }
  deleteTask(taskId: string): Promise<void> { return this.inner.deleteTask(taskId); }
  stats(): Promise<StorageStats> { return this.inner.stats(); }
}

async function routerOver(t: import('ava').ExecutionContext, medium: StorageMedium): Promise<TaskMediumRouter> {
  const registry = new StorageRegistry();
  registry.add(medium);
  const router = new TaskMediumRouter(medium, registry, silentLogger());
  await router.start();
  t.teardown(() => router.stop());
  return router;
}

test('router: a medium without readWritten gets the write options with a feed turned into a stream, and a piece it is writing is D7Y_PIECE_NOT_FOUND', async (t) => {
  const medium = new PlainMedium();
  const router = await routerOver(t, medium);
  const data = randomBytes(700 * 1024 + 9);
  const taskId = 'ab'.repeat(32);
  const piece = { number: 0, offset: 0, length: data.length };
  await router.putTask({ taskId, contentLength: data.length, pieceLength: data.length });
  const opts = { onWritten: (): void => undefined };
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const writing = router.writePiece(taskId, piece, heldInput('feed', data, 64 * 1024, () => gate), pieceDigest(data), opts);
  const refused = await t.throwsAsync(router.readWritten(taskId, piece, { start: 0, length: 1 }));
  t.true(isD7yError(refused, 'D7Y_PIECE_NOT_FOUND'), String(refused));
  t.regex(refused!.message, /"plain" storage medium, which cannot serve pieces being written/);
  release();
  await writing;
  t.is(medium.options[0], opts, 'the options reach the medium as they were given');
  t.true((await readAll(await router.readWritten(taskId, piece, { start: 5, length: 1000 }))).equals(data.subarray(5, 1005)), 'a held piece is served');
});

test('router: forwards onWritten and readWritten to a medium that serves pieces being written', async (t) => {
  const medium = new MemoryStorage({ capacity: 64 * 1024 * 1024, logger: silentLogger() });
  const router = await routerOver(t, medium);
  const data = randomBytes(1024 * 1024 + 3);
  const taskId = 'cd'.repeat(32);
  const piece = { number: 0, offset: 0, length: data.length };
  await router.putTask({ taskId, contentLength: data.length, pieceLength: data.length });
  const reads: Promise<boolean>[] = [];
  let hold: Promise<unknown> = Promise.resolve();
  const onWritten = (bytes: number): void => {
    const read = router.readWritten(taskId, piece, { start: 0, length: bytes }).then(readAll).then((back) => back.equals(data.subarray(0, bytes)));
    reads.push(read);
    hold = read.catch(() => undefined);
  };
  await router.writePiece(taskId, piece, heldInput('feed', data, 100 * 1024, () => hold), pieceDigest(data), { onWritten });
  const exact = await Promise.all(reads);
  t.true(exact.length >= 3, `reported ${exact.length} times`);
  t.true(exact.every(Boolean), 'every prefix read through the router is byte-exact');
});
