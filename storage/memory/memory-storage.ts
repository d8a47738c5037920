import { Readable } from 'node:stream';
import { D7yError, formatBytes, silentLogger } from '../../core/index.js';
import type { Logger, PieceInput, PieceReadable, PieceRecord, StorageMedium, StorageStats, TaskRecord, WritePieceOptions } from '../../core/index.js';
import { abandonInput, checkDigest, consumePiece, drainPiece, storedRecord } from '../shared/piece-input.js';
import { checkPiece, checkRange, checkTaskId, checkWrittenRange, notRunning, pieceNotFound, taskNotFound } from '../shared/storage-errors.js';
import { writtenReporter } from '../shared/written-reporter.js';

export interface MemoryStorageOptions {
  /** Byte budget for piece bytes (in-flight writes included). */
  capacity: number;
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

interface MemoryTask {
  record: TaskRecord;
  pieces: Map<number, { record: PieceRecord; bytes: Buffer }>;
  bytes: number;
  writers: number;
  readers: number;
  writing: Map<number, Promise<unknown>>;
  /** Pieces being written now: their buffer and how many leading bytes of it are filled. */
  filling: Map<number, { piece: Omit<PieceRecord, 'digest'>; bytes: Buffer; written: number }>;
}

/** Bytes copied into a piece between two `onWritten` calls (the last call comes at the piece's end). */
const REPORT_STEP = 256 * 1024;

/**
 * Pieces held in Buffers within a byte budget. When a write would pass the budget, whole tasks
 * that are not in use (no write in flight, no read stream open) and not pinned are evicted, least
 * recently used first; when even that leaves no room the write rejects with D7Y_STORAGE_FULL.
 * A piece being written is served by `readWritten` from its buffer up to the bytes `onWritten`
 * reported (bytes once reported are never overwritten). Nothing persists across a restart.
 */
export class MemoryStorage implements StorageMedium {
  readonly name = 'memory';
  readonly takesFeeds: boolean = true;
  private readonly tasks = new Map<string, MemoryTask>();
  private readonly logger: Logger;
  private readonly now: () => number;
  private used = 0;
  private reserved = 0;
  private running = false;

  constructor(private readonly options: MemoryStorageOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.tasks.clear();
    this.used = 0;
  }

  async putTask(input: Omit<TaskRecord, 'createdAt' | 'lastAccessedAt' | 'finished'> & Partial<TaskRecord>): Promise<TaskRecord> {
    this.assertRunning();
    checkTaskId(input.taskId);
    const now = this.now();
    const existing = this.tasks.get(input.taskId);
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<TaskRecord>;
    const record: TaskRecord = {
      finished: false, createdAt: now, ...existing?.record, ...defined, lastAccessedAt: input.lastAccessedAt ?? now,
    } as TaskRecord;
    if (existing) existing.record = record;
    else this.tasks.set(input.taskId, { record, pieces: new Map(), bytes: 0, writers: 0, readers: 0, writing: new Map(), filling: new Map() });
    return { ...record };
  }

  async getTask(taskId: string): Promise<TaskRecord | undefined> {
    const task = this.tasks.get(taskId);
    return task ? { ...task.record } : undefined;
  }

  async listTasks(): Promise<TaskRecord[]> {
    return [...this.tasks.values()].map((task) => ({ ...task.record }));
  }

  /**
   * Copies the piece into a buffer of its own; `opts.onWritten` hears how many leading bytes are
   * copied every REPORT_STEP bytes and at the end (a Buffer's all at once), never after a failure.
   */
  async writePiece(taskId: string, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest?: string, opts?: WritePieceOptions): Promise<PieceRecord> {
    const task = this.tasks.get(taskId);
    try {
      this.assertRunning();
      checkTaskId(taskId);
      checkPiece(piece);
      if (!task) throw taskNotFound(taskId, this.name);
    } catch (err) {
      abandonInput(data);
      throw err;
    }
    const what = `piece ${piece.number} of task ${taskId}`;
    const previous = task.writing.get(piece.number);
    const attempt = (previous ? previous.catch(() => undefined) : Promise.resolve()).then(async () => {
      const present = task.pieces.get(piece.number);
      if (present) {
        checkDigest(await drainPiece(data, piece.length, what), expectedDigest ?? present.record.digest, what);
        return { ...present.record };
      }
      return this.store(task, piece, data, expectedDigest, what, opts);
    });
    task.writing.set(piece.number, attempt);
    try {
      return await attempt;
    } finally {
      if (task.writing.get(piece.number) === attempt) task.writing.delete(piece.number);
    }
  }

  private async store(
    task: MemoryTask, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest: string | undefined, what: string,
    opts: WritePieceOptions | undefined,
  ): Promise<PieceRecord> {
    task.writers++;
    try {
      this.reserve(piece.length, task, what);
    } catch (err) {
      task.writers--;
      abandonInput(data);
      throw err;
    }
    const filling = { piece: { number: piece.number, offset: piece.offset, length: piece.length }, bytes: Buffer.alloc(0), written: 0 };
    const { report, stop } = writtenReporter(filling, opts?.onWritten, this.logger, { taskId: task.record.taskId, piece: piece.number });
    try {
      const bytes = Buffer.isBuffer(data) ? Buffer.from(data) : Buffer.allocUnsafe(piece.length);
      filling.bytes = bytes;
      task.filling.set(piece.number, filling);
      const digest = Buffer.isBuffer(data)
        ? await consumePiece(data, piece.length, what, () => report(piece.length))
        : await consumePiece(data, piece.length, what, (chunk, position) => {
          chunk.copy(bytes, position);
          const end = position + chunk.length;
          if (end - filling.written >= REPORT_STEP || end === piece.length) report(end);
        });
      checkDigest(digest, expectedDigest, what);
      if (this.tasks.get(task.record.taskId) !== task) throw taskNotFound(task.record.taskId, this.name);
      const record = storedRecord(piece, digest, opts);
      task.pieces.set(piece.number, { record, bytes });
      task.bytes += piece.length;
      this.used += piece.length;
      task.record.lastAccessedAt = this.now();
      return { ...record };
    } finally {
      stop();
      if (task.filling.get(piece.number) === filling) task.filling.delete(piece.number);
      this.reserved -= piece.length;
      task.writers--;
    }
  }

  async readPiece(taskId: string, pieceNumber: number, range?: { start: number; length: number }): Promise<Readable> {
    this.assertRunning();
    const task = this.tasks.get(taskId);
    const piece = task?.pieces.get(pieceNumber);
    if (!task || !piece) throw pieceNotFound(taskId, pieceNumber, this.name);
    const { start, length } = checkRange(taskId, piece.record, range);
    return this.view(task, piece.bytes, start, length);
  }

  /**
   * The bytes of `range` of a piece being written (within what `onWritten` reported) or held, as a
   * view of its buffer. Rejects with D7Y_PIECE_NOT_FOUND when the piece is neither,
   * D7Y_INVALID_ARGUMENT for a range outside the written bytes or bounds that are not the piece's.
   */
  async readWritten(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }): Promise<PieceReadable> {
    this.assertRunning();
    const task = this.tasks.get(taskId);
    const held = task?.pieces.get(piece.number);
    const filling = held ? undefined : task?.filling.get(piece.number);
    if (!task || (!held && !filling)) throw pieceNotFound(taskId, piece.number, this.name);
    const { start, length } = held
      ? checkWrittenRange(taskId, held.record, piece, range, held.record.length)
      : checkWrittenRange(taskId, filling!.piece, piece, range, filling!.written);
    return this.view(task, held ? held.bytes : filling!.bytes, start, length);
  }

  private view(task: MemoryTask, bytes: Buffer, start: number, length: number): Readable {
    task.record.lastAccessedAt = this.now();
    task.readers++;
    const stream = Readable.from(length === 0 ? [] : [bytes.subarray(start, start + length)], { objectMode: false });
    stream.once('close', () => { task.readers--; });
    return stream;
  }

  async hasPiece(taskId: string, pieceNumber: number): Promise<boolean> {
    return this.tasks.get(taskId)?.pieces.has(pieceNumber) ?? false;
  }

  async listPieces(taskId: string): Promise<PieceRecord[]> {
    const task = this.tasks.get(taskId);
    if (!task) return [];
    return [...task.pieces.values()].map((p) => ({ ...p.record })).sort((a, b) => a.number - b.number);
  }

  async deleteTask(taskId: string): Promise<void> {
    const task = this.tasks.get(taskId);
    if (!task) return;
    this.tasks.delete(taskId);
    this.used -= task.bytes;
  }

  async stats(): Promise<StorageStats> {
    return { usedBytes: this.used, freeBytes: Math.max(0, this.options.capacity - this.used - this.reserved), taskCount: this.tasks.size };
  }

  /** Makes room for `length` more bytes by evicting idle tasks, least recently used first, or throws D7Y_STORAGE_FULL. */
  private reserve(length: number, writer: MemoryTask, what: string): void {
    const capacity = this.options.capacity;
    while (this.used + this.reserved + length > capacity) {
      const victim = this.leastRecentlyUsedIdle(writer);
      if (!victim) {
        throw new D7yError('D7Y_STORAGE_FULL',
          `memory storage is full: ${what} needs ${formatBytes(length)} but ${formatBytes(Math.max(0, capacity - this.used - this.reserved))} of the ${formatBytes(capacity)} capacity is free and no idle task can be evicted`, {
            fix: 'raise the memory storage "capacity" in plugins.json, or use the disk storage for large tasks',
            details: { capacity, used: this.used, reserved: this.reserved, needed: length },
          });
      }
      this.tasks.delete(victim.record.taskId);
      this.used -= victim.bytes;
      this.logger.info({ taskId: victim.record.taskId, bytes: victim.bytes }, 'memory storage evicted a task');
    }
    this.reserved += length;
  }

  private leastRecentlyUsedIdle(except: MemoryTask): MemoryTask | undefined {
    let best: MemoryTask | undefined;
    for (const task of this.tasks.values()) {
      if (task === except || task.record.pinned || task.writers > 0 || task.readers > 0 || task.bytes === 0) continue;
      if (!best || task.record.lastAccessedAt < best.record.lastAccessedAt) best = task;
    }
    return best;
  }

  private assertRunning(): void {
    if (!this.running) throw notRunning('memory storage');
  }
}
