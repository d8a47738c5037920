import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, PieceRecord } from '../../core/index.js';
import { diskPaths, newDiskTask, taskSnapshot, type DiskTask } from './disk-task.js';
import { TaskLog } from './task-log.js';

/** Whether the content file holds the bytes of a piece that matched `piece.digest` when written. */
export type PieceCheck = (taskId: string, piece: PieceRecord) => Promise<boolean>;

/**
 * Rebuilds the index of a disk storage root from its metadata logs. Pieces whose bytes lie past the
 * end of the content file are dropped; pieces logged as written but not yet as durable (the process
 * died within a group commit) are kept only when `check` finds their bytes, and are made durable by
 * the task's next commit (they start in `unlogged`). Torn logs are rewritten (or marked for rewrite
 * when the disk is full), leftover tmp files and content files without metadata are removed.
 */
export async function loadDiskIndex(dir: string, logger: Logger, check: PieceCheck): Promise<Map<string, DiskTask>> {
  const tasks = new Map<string, DiskTask>();
  const metaRoot = join(dir, 'metadata', 'tasks');
  for (const shard of await readdir(metaRoot)) {
    for (const name of await readdir(join(metaRoot, shard)).catch(() => [] as string[])) {
      const path = join(metaRoot, shard, name);
      if (name.endsWith('.tmp')) await rm(path, { force: true });
      else if (name.endsWith('.log')) {
        const task = await loadTask(dir, path, name.slice(0, -'.log'.length), logger, check);
        if (task) tasks.set(task.record.taskId, task);
      }
    }
  }
  const contentRoot = join(dir, 'content', 'tasks');
  for (const shard of await readdir(contentRoot)) {
    for (const name of await readdir(join(contentRoot, shard)).catch(() => [] as string[])) {
      if (!tasks.has(name)) await rm(join(contentRoot, shard, name), { force: true });
    }
  }
  return tasks;
}

async function loadTask(dir: string, path: string, taskId: string, logger: Logger, check: PieceCheck): Promise<DiskTask | undefined> {
  const replayed = await TaskLog.replay(path).catch((err: unknown) => {
    logger.warn({ err, path }, 'disk storage skipped an unreadable metadata log');
    return undefined;
  });
  if (!replayed || replayed.record.taskId !== taskId) {
    await rm(path, { force: true });
    return undefined;
  }
  const size = await stat(diskPaths(dir, taskId).content).then((s) => s.size, () => 0);
  const inFile = (p: PieceRecord): boolean => p.offset + p.length <= size;
  const pieces = new Map([...replayed.pieces].filter(([, p]) => inFile(p)));
  const written: PieceRecord[] = [];
  for (const p of replayed.written.values()) {
    if (inFile(p) && (await check(taskId, p).catch(() => false))) written.push(p);
  }
  for (const p of written) pieces.set(p.number, p);
  const task = newDiskTask(replayed.record, new TaskLog(path), pieces);
  task.unlogged = written;
  task.log.lines = replayed.lines;
  const dropped = replayed.pieces.size + replayed.written.size - pieces.size;
  if (written.length > 0) logger.info({ taskId, pieces: written.length }, 'disk storage kept pieces written before a crash (their bytes match their digests)');
  if (replayed.damaged || dropped > 0) {
    logger.warn({ taskId, dropped }, 'disk storage repaired a metadata log');
    await task.log.rewrite(taskSnapshot(task.record, pieces, new Set(written.map((p) => p.number)))).catch((err: unknown) => {
      task.log.markDamaged();
      logger.warn({ err, taskId }, 'disk storage could not repair a metadata log now; the next write will');
    });
  }
  return task;
}
