import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import test from 'ava';
import { corruptPieces } from '../../core/roles/peer/tasks/piece-recheck.js';
import { TaskState } from '../../core/roles/peer/tasks/task-state.js';
import { pieceBuffers } from '../../core/task/buffer-pool.js';
import { DiskStorage } from '../../storage/disk/disk-storage.js';
import { tmpDir } from '../support/env.js';

const MIB = 1024 * 1024;
const PIECE = 4 * MIB;
const TASK = 'd'.repeat(64);

test('re-reading a held task against its digests goes through a buffer or two, whatever its size, and still finds a changed byte', async (t) => {
  const dir = await tmpDir(t, 'd7y-recheck-');
  const disk = new DiskStorage({ dir });
  await disk.start();
  t.teardown(() => disk.stop());
  const state = new TaskState(TASK);
  state.record = await disk.putTask({ taskId: TASK, url: 'https://origin.example/f', pieceLength: PIECE, contentLength: 6 * PIECE });
  for (let n = 0; n < 6; n += 1) {
    state.addPiece({ ...(await disk.writePiece(TASK, { number: n, offset: n * PIECE, length: PIECE }, randomBytes(PIECE))), createdAt: Date.now() });
  }
  const before = pieceBuffers.made;
  t.deepEqual(await corruptPieces(disk, state), [], 'every piece matches');
  const made = pieceBuffers.made - before;
  t.true(made <= 2, `24 MiB were read back through ${made} new 256 KiB buffers`);

  const file = await open(disk.taskFilePath(TASK)!, 'r+');
  await file.write(Buffer.from([0x5a]), 0, 1, 3 * PIECE + 12345);
  await file.close();
  t.deepEqual(await corruptPieces(disk, state), [3], 'the piece with the changed byte is found');
});
