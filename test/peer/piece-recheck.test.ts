import { randomBytes } from 'node:crypto';
import { link, open, unlink } from 'node:fs/promises';
import test from 'ava';
import { corruptPieces } from '../../core/roles/peer/tasks/piece-recheck.js';
import { TaskCatalog } from '../../core/roles/peer/tasks/task-catalog.js';
import { TaskState } from '../../core/roles/peer/tasks/task-state.js';
import { pieceBuffers } from '../../core/task/buffer-pool.js';
import { DiskStorage } from '../../storage/disk/disk-storage.js';
import { tmpDir } from '../support/env.js';

const MIB = 1024 * 1024;
const PIECE = 4 * MIB;
const TASK = 'd'.repeat(64);

test.serial('re-reading a held task against its digests goes through a buffer or two, whatever its size, and still finds a changed byte', async (t) => {
  const dir = await tmpDir(t, 'd7y-recheck-');
  const disk = new DiskStorage({ dir });
  await disk.start();
  t.teardown(() => disk.stop());
  const state = new TaskState(TASK);
  state.record = await disk.putTask({ taskId: TASK, url: 'https://origin.example/f', pieceLength: PIECE, contentLength: 6 * PIECE });
  for (let n = 0; n < 6; n += 1) {
    state.addPiece({ ...(await disk.writePiece(TASK, { number: n, offset: n * PIECE, length: PIECE }, randomBytes(PIECE))), createdAt: Date.now() });
  }
  // Serial: the pool is the process's, and another test reading pieces at the same time would add to the count.
  const before = pieceBuffers.made;
  t.deepEqual(await corruptPieces(disk, state), [], 'every piece matches');
  const made = pieceBuffers.made - before;
  t.true(made <= 2, `24 MiB were read back through ${made} new 256 KiB buffers`);

  const file = await open(disk.taskFilePath(TASK)!, 'r+');
  await file.write(Buffer.from([0x5a]), 0, 1, 3 * PIECE + 12345);
  await file.close();
  t.deepEqual(await corruptPieces(disk, state), [3], 'the piece with the changed byte is found');
});

test('listing tasks reads none back, even one whose hard-linked output changed; its next use re-verifies it', async (t) => {
  const dir = await tmpDir(t, 'd7y-recheck-');
  const disk = new DiskStorage({ dir: `${dir}/data` });
  await disk.start();
  t.teardown(() => disk.stop());
  let reads = 0;
  const readPiece = disk.readPiece.bind(disk);
  disk.readPiece = (...args) => {
    reads += 1;
    return readPiece(...args);
  };
  const catalog = new TaskCatalog(disk);
  const state = await catalog.state(TASK);
  state.record = await disk.putTask({ taskId: TASK, url: 'https://origin.example/f', pieceLength: PIECE, contentLength: 3 * PIECE });
  for (let n = 0; n < 3; n += 1) {
    state.addPiece({ ...(await disk.writePiece(TASK, { number: n, offset: n * PIECE, length: PIECE }, randomBytes(PIECE))), createdAt: Date.now() });
  }
  state.record = await disk.putTask({ ...state.record, finished: true });
  const output = `${dir}/out.bin`;
  await link(disk.taskFilePath(TASK)!, output);
  await catalog.linked.record(state);
  await new Promise((r) => setTimeout(r, 20));
  await unlink(output); // the user removes the output: the content file's ctime changes

  const listed = await catalog.list();
  t.deepEqual(listed.map((s) => s.taskId), [TASK]);
  t.is(listed[0]!.pieces.size, 3);
  t.is(reads, 0, 'a listing reads no piece back');
  t.truthy(await catalog.find(TASK));
  t.is(reads, 3, 'the next use reads every piece back once');
  t.truthy(await catalog.find(TASK));
  t.is(reads, 3, 'and not again once the new stamp is recorded');
});
