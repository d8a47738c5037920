import '../../core/metadata-polyfill.js';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import test from 'ava';
import { isPieceFeed, type PieceInput, type PieceRecord } from '../../core/contracts/storage-medium.js';
import { silentLogger } from '../../core/logging/logger.js';
import { StorageRegistry } from '../../core/registry/storage-registry.js';
import { TaskMediumRouter } from '../../core/roles/peer/tasks/task-medium-router.js';
import { pieceDigest } from '../../core/task/piece-digest.js';
import { readAll, reusingFeed } from '../../core/testing/storage-medium-contract.js';
import { MemoryStorage } from '../../storage/memory/memory-storage.js';

/** A medium written before feeds existed: it only knows Buffers and streams. */
class StreamOnlyMedium extends MemoryStorage {
  override readonly takesFeeds: boolean = false;
  readonly seen: string[] = [];

  override async writePiece(taskId: string, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest?: string): Promise<PieceRecord> {
    if (isPieceFeed(data)) throw new Error('a feed reached a medium that does not take feeds');
    this.seen.push(Buffer.isBuffer(data) ? 'buffer' : typeof (data as Readable).pipe === 'function' ? 'stream' : 'other');
    return super.writePiece(taskId, piece, data, expectedDigest);
  }
}

test('a storage plugin that does not take feeds gets a piece from the network as a stream, intact', async (t) => {
  const medium = new StreamOnlyMedium({ capacity: 64 * 1024 * 1024, logger: silentLogger() });
  const registry = new StorageRegistry();
  registry.add(medium);
  const router = new TaskMediumRouter(medium, registry, silentLogger());
  await router.start();
  t.teardown(() => router.stop());
  const data = randomBytes(700 * 1024 + 9);
  const taskId = 'ef'.repeat(32);
  await router.putTask({ taskId, contentLength: data.length, pieceLength: 4 * 1024 * 1024 });
  const rec = await router.writePiece(taskId, { number: 0, offset: 0, length: data.length }, reusingFeed(data), pieceDigest(data));
  t.is(rec.digest, pieceDigest(data));
  t.deepEqual(medium.seen, ['stream']);
  t.true((await readAll(await router.readPiece(taskId, 0))).equals(data));
});
