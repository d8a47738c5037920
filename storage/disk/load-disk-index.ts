import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/index.js';
import { diskPaths, newDiskTask, taskSnapshot, type DiskTask } from './disk-task.js';
import { TaskLog } from './task-log.js';

/**
 * Rebuilds the index of a disk storage root from its metadata logs. Pieces whose bytes lie past the
 * end of the content file are dropped, torn logs are rewritten (or marked for rewrite when the disk
 * is full), leftover tmp files and content files without metadata are removed.
 */
export async function loadDiskIndex(dir: string, logger: Logger): Promise<Map<string, DiskTask>> {
  const tasks = new Map<string, DiskTask>();
  const metaRoot = join(dir, 'metadata', 'tasks');
  for (const shard of await readdir(metaRoot)) {
    for (const name of await readdir(join(metaRoot, shard)).catch(() => [] as string[])) {
      const path = join(metaRoot, shard, name);
      if (name.endsWith('.tmp')) await rm(path, { force: true });
      else if (name.endsWith('.log')) {
        const task = await loadTask(dir, path, name.slice(0, -'.log'.length), logger);
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

async function loadTask(dir: string, path: string, taskId: string, logger: Logger): Promise<DiskTask | undefined> {
  const replayed = await TaskLog.replay(path).catch((err: unknown) => {
    logger.warn({ err, path }, 'disk storage skipped an unreadable metadata log');
    return undefined;
  });
  if (!replayed || replayed.record.taskId !== taskId) {
    await rm(path, { force: true });
    return undefined;
  }
  const size = await stat(diskPaths(dir, taskId).content).then((s) => s.size, () => 0);
  const pieces = new Map([...replayed.pieces].filter(([, p]) => p.offset + p.length <= size));
  const task = newDiskTask(replayed.record, new TaskLog(path), pieces);
  task.log.lines = replayed.lines;
  if (replayed.damaged || pieces.size !== replayed.pieces.size) {
    logger.warn({ taskId, dropped: replayed.pieces.size - pieces.size }, 'disk storage repaired a metadata log');
    await task.log.rewrite(taskSnapshot(task.record, pieces)).catch((err: unknown) => {
      task.log.markDamaged();
      logger.warn({ err, taskId }, 'disk storage could not repair a metadata log now; the next write will');
    });
  }
  return task;
}
