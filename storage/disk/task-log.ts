import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import type { PieceRecord, TaskRecord } from '../../core/index.js';

/** An append handle unused this long is closed: a task's pieces land closer together than that. */
const IDLE_CLOSE_MS = 2_000;

/**
 * One line of a task's metadata log. `written`: the piece's bytes were written to the content file
 * and matched its digest, not yet made durable; `piece`: they are durable (after an fdatasync).
 */
export type TaskLogEntry =
  | { op: 'task'; record: TaskRecord }
  | { op: 'written'; piece: PieceRecord }
  | { op: 'piece'; piece: PieceRecord }
  | { op: 'touch'; at: number };

/** A task's state rebuilt from its log. */
export interface ReplayedTask {
  record: TaskRecord;
  pieces: Map<number, PieceRecord>;
  /** Pieces logged as written but never as durable: their bytes must be checked before they are held again. */
  written: Map<number, PieceRecord>;
  lines: number;
  /** Some line could not be parsed (a write cut short by a crash or a full disk). */
  damaged: boolean;
}

/**
 * The append-only metadata log of one task (JSON lines). Appends and rewrites run one at a time in
 * call order. A `piece` line is appended only after the piece's bytes are durable in the content
 * file, so a replay never finds such a piece whose bytes are missing; a `written` line comes as soon
 * as the bytes are in the file (they survive the process, not yet a power cut), and its piece is
 * checked against its digest when replayed. After a failed append the next
 * write rewrites the whole log (tmp file, fsync, rename) so a torn line is never glued to a new one.
 */
export class TaskLog {
  private chain: Promise<unknown> = Promise.resolve();
  private damaged = false;
  /** Kept open for the appends that follow each other while the task's pieces land; closed when idle. */
  private handle?: FileHandle;
  private idleTimer?: NodeJS.Timeout;
  lines = 0;

  constructor(readonly path: string) {}

  /** Appends `entry` (or entries), or rewrites the log from `snapshot()` when it needs repair or compaction. */
  append(entry: TaskLogEntry | TaskLogEntry[], snapshot: () => TaskLogEntry[], compactAbove: number): Promise<void> {
    const entries = Array.isArray(entry) ? entry : [entry];
    return this.run(async () => {
      if (this.damaged || this.lines >= compactAbove) {
        await this.writeAll(snapshot());
        return;
      }
      try {
        this.handle ??= await open(this.path, 'a');
        await this.handle.appendFile(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
        this.lines += entries.length;
      } catch (err) {
        this.damaged = true;
        await this.closeHandle();
        throw err;
      }
      this.closeWhenIdle();
    });
  }

  /** Closes the log's append handle once every queued write settled (the next append opens it again). */
  close(): Promise<void> {
    clearTimeout(this.idleTimer);
    return this.run(() => this.closeHandle());
  }

  private closeWhenIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close().catch(() => undefined), IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  /** Replaces the log with exactly `entries`, atomically. */
  rewrite(entries: TaskLogEntry[]): Promise<void> {
    return this.run(() => this.writeAll(entries));
  }

  /** Removes the log once every queued write settled. */
  remove(): Promise<void> {
    clearTimeout(this.idleTimer);
    return this.run(async () => {
      await this.closeHandle();
      await rm(this.path, { force: true });
    });
  }

  /** Makes the next write a full rewrite (the log on disk is known to be stale or torn). */
  markDamaged(): void {
    this.damaged = true;
  }

  /** Runs `fn` after every write queued before it. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => undefined).then(fn);
    this.chain = next;
    return next;
  }

  private async writeAll(entries: TaskLogEntry[]): Promise<void> {
    // The rename below puts a new file at the path: an open append handle would write to the old one.
    await this.closeHandle();
    const tmp = `${this.path}.tmp`;
    try {
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
      this.lines = entries.length;
      this.damaged = false;
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      this.damaged = true;
      throw err;
    }
  }

  /** Rebuilds a task from its log; undefined when the log holds no task record. */
  static async replay(path: string): Promise<ReplayedTask | undefined> {
    const text = await readFile(path, 'utf8');
    let record: TaskRecord | undefined;
    const pieces = new Map<number, PieceRecord>();
    const written = new Map<number, PieceRecord>();
    let lines = 0;
    let damaged = false;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      lines++;
      let entry: TaskLogEntry;
      try {
        entry = JSON.parse(line) as TaskLogEntry;
      } catch {
        damaged = true;
        continue;
      }
      if (entry.op === 'task') record = entry.record;
      else if (entry.op === 'piece' && isPiece(entry.piece)) {
        pieces.set(entry.piece.number, entry.piece);
        written.delete(entry.piece.number);
      } else if (entry.op === 'written' && isPiece(entry.piece)) {
        if (!pieces.has(entry.piece.number)) written.set(entry.piece.number, entry.piece);
      }
      else if (entry.op === 'touch' && record) record.lastAccessedAt = Math.max(record.lastAccessedAt, entry.at);
      else damaged = true;
    }
    if (!text.endsWith('\n') && text.length > 0) damaged = true;
    return record ? { record, pieces, written, lines, damaged } : undefined;
  }
}

function isPiece(p: unknown): p is PieceRecord {
  const x = p as PieceRecord;
  return typeof x === 'object' && x !== null && Number.isSafeInteger(x.number) && Number.isSafeInteger(x.offset)
    && Number.isSafeInteger(x.length) && typeof x.digest === 'string';
}
