import { join } from 'node:path';
import type { PieceRecord, TaskRecord } from '../../core/index.js';
import type { ContentFile } from './content-file.js';
import { TaskLog, type TaskLogEntry } from './task-log.js';

/** The in-memory state of one task of the disk storage. */
export interface DiskTask {
  record: TaskRecord;
  pieces: Map<number, PieceRecord>;
  /** Sum of the recorded pieces' lengths. */
  bytes: number;
  log: TaskLog;
  /** Piece writes in flight (GC never touches the task while above 0). */
  writers: number;
  writing: Map<number, Promise<unknown>>;
  /** Pieces whose bytes are being written into the file now, by number (see `readWritten`). */
  filling: Map<number, PieceFilling>;
  file?: Promise<ContentFile>;
  deleted: boolean;
  /** The last access time written to the log. */
  persistedAccess: number;
  /** Pieces held and served whose bytes are not yet known durable (logged as `written`, not yet as `piece`). */
  unlogged: PieceRecord[];
  commitTimer?: NodeJS.Timeout;
  /** The latest group commit; later ones chain after it. */
  committing: Promise<void>;
}

/** A piece being written: its bounds and how many of its leading bytes are in the file. */
export interface PieceFilling {
  offset: number;
  length: number;
  written: number;
  /** With encryption at rest: the nonce of the write, to pass its bytes on before the piece is sealed. */
  nonce?: Buffer;
}

export function newDiskTask(record: TaskRecord, log: TaskLog, pieces = new Map<number, PieceRecord>()): DiskTask {
  return {
    record, pieces, bytes: [...pieces.values()].reduce((n, p) => n + p.length, 0), log, writers: 0, writing: new Map(), filling: new Map(),
    deleted: false, persistedAccess: record.lastAccessedAt, unlogged: [], committing: Promise.resolve(),
  };
}

/** The log entries that rebuild the task exactly: its record, then each piece (`written` for those not yet durable). */
export function taskSnapshot(record: TaskRecord, pieces: Map<number, PieceRecord>, notDurable: ReadonlySet<number> = new Set()): TaskLogEntry[] {
  return [{ op: 'task', record }, ...[...pieces.values()].map((piece): TaskLogEntry => ({ op: notDurable.has(piece.number) ? 'written' : 'piece', piece }))];
}

/** Where a task's files live under the storage root. */
export function diskPaths(dir: string, taskId: string): { content: string; log: string } {
  const shard = taskId.slice(0, 3);
  return {
    content: join(dir, 'content', 'tasks', shard, taskId),
    log: join(dir, 'metadata', 'tasks', shard, `${taskId}.log`),
  };
}
