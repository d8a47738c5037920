import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import type { PieceRecord, TaskRecord } from '../../core/index.js';
import { tmpDir } from '../../test/support/env.js';
import { TaskLog, type TaskLogEntry } from './task-log.js';

const record: TaskRecord = {
  taskId: 'a'.repeat(64), url: 'https://origin.example/f', pieceLength: 4, contentLength: 12,
  createdAt: 1, lastAccessedAt: 1, finished: false,
};
const piece = (n: number): PieceRecord => ({ number: n, offset: n * 4, length: 4, digest: `crc32:${n}` });
const pieceLine = (n: number): TaskLogEntry => ({ op: 'piece', piece: piece(n) });

/** File descriptors of this process open on `path`. */
async function openOn(path: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
    if (target === path) n += 1;
  }
  return n;
}

test('appends that follow each other share one handle, a compaction moves them to the new file, and close and remove leave no handle open', async (t) => {
  const dir = await tmpDir(t, 'd7y-task-log-');
  const path = join(dir, 'task.log');
  const log = new TaskLog(path);
  const snapshot = (): TaskLogEntry[] => [{ op: 'task', record }, pieceLine(0), pieceLine(1)];
  await log.append({ op: 'task', record }, snapshot, 100);
  await log.append(pieceLine(0), snapshot, 100);
  t.is(await openOn(path), 1, 'one append handle stays open between appends');
  await log.append(pieceLine(1), snapshot, 100);
  t.is(await openOn(path), 1, 'and no second one is opened');

  // Above the compaction threshold the log is rewritten (tmp file, rename): later appends must land in the new file.
  await log.append(pieceLine(2), snapshot, 3);
  t.is(log.lines, 3, 'the rewrite holds the snapshot');
  await log.append(pieceLine(2), snapshot, 100);
  const replayed = await TaskLog.replay(path);
  t.deepEqual([...replayed!.pieces.keys()].sort(), [0, 1, 2], 'the append after the rewrite is in the file the path names');
  t.false(replayed!.damaged);
  t.is((await readFile(path, 'utf8')).trim().split('\n').length, 4);

  await log.close();
  t.is(await openOn(path), 0, 'close gives the handle back');
  await log.append(pieceLine(3), snapshot, 100);
  t.deepEqual([...(await TaskLog.replay(path))!.pieces.keys()].sort(), [0, 1, 2, 3], 'an append after close opens the file again');
  await log.remove();
  t.is(await openOn(path), 0);
  t.deepEqual(await readdir(dir), [], 'remove deletes the log and leaves no handle on it');
});
