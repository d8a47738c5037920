import { mkdir, open, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { D7yError, formatBytes, isPieceFeed, pieceDigest, silentLogger } from '../../core/index.js';
import type { Logger, PieceInput, PieceReadable, PieceRecord, StorageGcReport, StorageMedium, StorageStats, TaskRecord, WritePieceOptions, WrittenProgress } from '../../core/index.js';
import { abandonInput, checkDigest, consumePiece, drainPiece, storedRecord } from '../shared/piece-input.js';
import { checkPiece, checkRange, checkTaskId, checkWrittenRange, notRunning, pieceNotFound, taskNotFound } from '../shared/storage-errors.js';
import { writtenReporter } from '../shared/written-reporter.js';
import { ContentFile, type ContentWriter } from './content-file.js';
import { DiskGc, type DiskGcSettings } from './disk-gc.js';
import { diskPaths, newDiskTask, taskSnapshot, type DiskTask, type PieceFilling } from './disk-task.js';
import { fsFailure } from './fs-failure.js';
import { followedFileRange, pooledFileRange } from './pooled-read.js';
import { SharedReadHandles } from './read-handles.js';
import { loadDiskIndex } from './load-disk-index.js';
import { PieceCipher } from './piece-cipher.js';
import { sealedRange, unsealedChunks } from './sealed-read.js';
import { TaskLog, type TaskLogEntry } from './task-log.js';

export interface DiskStorageOptions {
  /** Root directory: content files under `content/tasks/`, metadata logs under `metadata/tasks/`. */
  dir: string;
  /** A byte budget for piece bytes; writes past it evict or fail with D7Y_STORAGE_FULL. */
  quota?: number;
  gc?: Partial<DiskGcSettings> & { interval?: number };
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
  /** How long `stop` waits for writes in flight to settle (their input streams are destroyed first). */
  stopTimeoutMs?: number;
  /** Encrypt piece content at rest with the key in this file (AES-256-GCM per piece; see PieceCipher). */
  encryption?: { keyFile: string };
}

/** A piece record as the disk keeps it: with the seal of its encrypted bytes when encryption is on. */
type StoredPiece = PieceRecord & { seal?: string };

/** The record callers see (the seal stays inside the medium). */
function publicRecord(p: StoredPiece): PieceRecord {
  const { seal: _seal, ...record } = p;
  return record;
}


const DEFAULT_GC = { interval: 60_000, taskTtl: 6 * 3_600_000, highWatermark: 80, lowWatermark: 60 };
const TOUCH_PERSIST_MS = 60_000;
/** Milliseconds pieces of a task wait to be made durable and logged together (one fdatasync). */
const COMMIT_MS = 200;

/**
 * The default storage medium: one content file per task, pieces written in place at their offsets
 * while they stream in, and a metadata log per task that survives restarts. A piece is held (and
 * served) once its crc32 matched; it is logged in a group commit within COMMIT_MS, after one
 * fdatasync of the content file, so a crash never leaves a logged piece whose bytes are missing.
 * A piece being written is served by `readWritten` up to the bytes `onWritten` reported.
 * ENOSPC/EDQUOT surface as D7Y_STORAGE_FULL naming the directory.
 * GC (TTL and watermarks, on `quota` when set, else on the file system) runs on a timer and on `gc()`.
 */
export class DiskStorage implements StorageMedium {
  readonly name = 'disk';
  readonly takesFeeds = true;
  private tasks = new Map<string, DiskTask>();
  private readonly inflight = new Map<Promise<unknown>, PieceInput>();
  private readonly removals = new Map<string, Promise<unknown>>();
  /** Read handles on content files, shared by overlapping and back-to-back piece reads. */
  private readonly readers = new SharedReadHandles();
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly gcSettings: typeof DEFAULT_GC;
  private readonly collector: DiskGc;
  private timer?: NodeJS.Timeout;
  private used = 0;
  private reserved = 0;
  private running = false;
  private cipher?: PieceCipher;

  constructor(private readonly options: DiskStorageOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.gcSettings = { ...DEFAULT_GC, ...Object.fromEntries(Object.entries(options.gc ?? {}).filter(([, v]) => v !== undefined)) };
    this.collector = new DiskGc(this.gcSettings, {
      candidates: () => [...this.tasks.values()].map((t) => ({
        taskId: t.record.taskId, lastAccessedAt: t.record.lastAccessedAt, finished: t.record.finished,
        pinned: t.record.pinned === true, busy: t.writers > 0,
      })),
      usage: () => this.usage(),
      evict: (taskId, reason) => this.evict(taskId, reason),
    }, this.logger, this.now);
  }

  get dir(): string {
    return this.options.dir;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.fsStep('creating its directories', async () => {
      await mkdir(join(this.dir, 'content', 'tasks'), { recursive: true });
      await mkdir(join(this.dir, 'metadata', 'tasks'), { recursive: true });
    });
    if (this.options.encryption) this.cipher = await PieceCipher.load(this.options.encryption.keyFile, this.logger);
    this.tasks = await this.fsStep('loading its metadata', () => loadDiskIndex(this.dir, this.logger, (taskId, piece) => this.intact(taskId, piece)));
    for (const task of this.tasks.values()) {
      if (task.unlogged.length > 0) task.commitTimer = setTimeout(() => void this.commit(task).catch(() => undefined), COMMIT_MS);
    }
    this.used = [...this.tasks.values()].reduce((n, t) => n + t.bytes, 0);
    this.running = true;
    this.timer = setInterval(() => {
      this.collector.run().catch((err: unknown) => this.logger.warn({ err }, 'disk storage GC pass failed'));
    }, this.gcSettings.interval);
    this.timer.unref();
    this.logger.info({ dir: this.dir, tasks: this.tasks.size, usedBytes: this.used }, 'disk storage started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    for (const data of this.inflight.values()) {
      abandonInput(data, new D7yError('D7Y_ABORTED', `disk storage at ${this.dir} is stopping`));
    }
    const timeout = delay(this.options.stopTimeoutMs ?? 10_000, undefined, { ref: false });
    await Promise.race([Promise.allSettled([...this.inflight.keys()]), timeout]);
    this.readers.retireAll();
    for (const task of this.tasks.values()) {
      await this.commit(task).catch(() => undefined);
      if (task.record.lastAccessedAt > task.persistedAccess) this.persistTouch(task);
      await task.log.close();
    }
  }

  async putTask(input: Omit<TaskRecord, 'createdAt' | 'lastAccessedAt' | 'finished'> & Partial<TaskRecord>): Promise<TaskRecord> {
    this.assertRunning();
    checkTaskId(input.taskId);
    const now = this.now();
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<TaskRecord>;
    const existing = this.tasks.get(input.taskId);
    const record = { finished: false, createdAt: now, ...existing?.record, ...defined, lastAccessedAt: input.lastAccessedAt ?? now } as TaskRecord;
    const entry: TaskLogEntry = { op: 'task', record };
    if (existing) {
      await this.commit(existing);
      await this.fsStep(`recording task ${input.taskId}`, () => existing.log.append(entry, () => this.snapshot(existing, record), this.compactAbove(existing)));
      existing.record = record;
      existing.persistedAccess = record.lastAccessedAt;
      return { ...record };
    }
    await this.removals.get(input.taskId);
    const again = this.tasks.get(input.taskId);
    if (again) return this.putTask(input);
    const task = newDiskTask(record, new TaskLog(this.logPath(input.taskId)));
    this.tasks.set(input.taskId, task);
    try {
      await this.fsStep(`recording task ${input.taskId}`, async () => {
        await mkdir(dirname(task.log.path), { recursive: true });
        await task.log.rewrite([entry]);
      });
    } catch (err) {
      if (this.tasks.get(input.taskId) === task) this.tasks.delete(input.taskId);
      throw err;
    }
    return { ...record };
  }

  async getTask(taskId: string): Promise<TaskRecord | undefined> {
    const task = this.tasks.get(taskId);
    return task ? { ...task.record } : undefined;
  }

  async listTasks(): Promise<TaskRecord[]> {
    return [...this.tasks.values()].map((t) => ({ ...t.record }));
  }

  /**
   * Writes the piece in place; `opts.onWritten` hears how many leading bytes of it are in the
   * content file as each batch lands (a Buffer's all at once), and never after the write failed.
   */
  async writePiece(taskId: string, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest?: string, opts?: WritePieceOptions): Promise<PieceRecord> {
    const attempt = this.writePieceOnce(taskId, piece, data, expectedDigest, opts);
    this.inflight.set(attempt, data);
    try {
      return await attempt;
    } finally {
      this.inflight.delete(attempt);
    }
  }

  private async writePieceOnce(taskId: string, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest?: string, opts?: WritePieceOptions): Promise<PieceRecord> {
    const task = this.tasks.get(taskId);
    try {
      this.assertRunning();
      checkTaskId(taskId);
      checkPiece(piece);
      if (!task) throw taskNotFound(taskId, this.name);
      const length = task.record.contentLength;
      if (length !== undefined && piece.offset + piece.length > length) {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `piece ${piece.number} (offset ${piece.offset}, length ${piece.length}) ends past the ${length} bytes of task ${taskId}`, {
          fix: 'compute piece bounds with pieceBounds() from the task length and piece length',
        });
      }
    } catch (err) {
      abandonInput(data);
      throw err;
    }
    const what = `piece ${piece.number} of task ${taskId}`;
    const previous = task.writing.get(piece.number);
    const attempt = (previous ? previous.catch(() => undefined) : Promise.resolve()).then(async () => {
      const present = task.pieces.get(piece.number);
      if (present) {
        checkDigest(await drainPiece(data, piece.length, what), expectedDigest ?? present.digest, what);
        return publicRecord(present);
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
    task: DiskTask, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest: string | undefined, what: string,
    opts: WritePieceOptions | undefined,
  ): Promise<PieceRecord> {
    task.writers++;
    let reservedBytes = 0;
    const filling: PieceFilling = { offset: piece.offset, length: piece.length, written: 0 };
    task.filling.set(piece.number, filling);
    const progress = writtenReporter(filling, opts?.onWritten, this.logger, { taskId: task.record.taskId, piece: piece.number });
    const landed = progress.report;
    try {
      await this.reserve(piece.length, task, what);
      reservedBytes = piece.length;
      const file = await this.fsStep(`opening the content file of task ${task.record.taskId}`, () => this.openFile(task));
      const sealer = this.cipher?.sealer({ taskId: task.record.taskId, number: piece.number, offset: piece.offset, length: piece.length });
      if (sealer) filling.nonce = sealer.nonce;
      // Ciphertext is copied into pooled batches at once, so that the cipher's fresh buffers are short-lived.
      const writer = isPieceFeed(data) || sealer ? file.copyingWriter(piece.offset, landed) : file.writer(piece.offset, landed);
      const writing = `writing ${what}`;
      const digest = await consumePiece(data, piece.length, what, (chunk) => {
        const wrote = sealer ? pushAll(writer, sealer.update(chunk)) : writer.push(chunk);
        return wrote && this.fsStep(writing, () => wrote);
      });
      await this.fsStep(writing, () => writer.flush());
      checkDigest(digest, expectedDigest, what);
      if (task.deleted) throw taskNotFound(task.record.taskId, this.name);
      const record: StoredPiece = { ...storedRecord(piece, digest, opts), ...(sealer && { seal: sealer.seal() }) };
      task.unlogged.push(record);
      task.commitTimer ??= setTimeout(() => void this.commit(task).catch(() => undefined), COMMIT_MS);
      task.pieces.set(piece.number, record);
      task.bytes += piece.length;
      this.used += piece.length;
      task.record.lastAccessedAt = this.now();
      await this.logWritten(task, record);
      return publicRecord(record);
    } catch (err) {
      abandonInput(data);
      throw err;
    } finally {
      progress.stop();
      if (task.filling.get(piece.number) === filling) task.filling.delete(piece.number);
      this.reserved -= reservedBytes;
      task.writers--;
      if (task.writers === 0 && task.file) {
        const closing = task.file;
        task.file = undefined;
        await (await closing).close();
      }
    }
  }

  async readPiece(taskId: string, pieceNumber: number, range?: { start: number; length: number }): Promise<PieceReadable> {
    this.assertRunning();
    const task = this.tasks.get(taskId);
    const piece = task?.pieces.get(pieceNumber);
    if (!task || !piece) throw pieceNotFound(taskId, pieceNumber, this.name);
    const { start, length } = checkRange(taskId, piece, range);
    this.touch(task);
    if (this.cipher) return this.readSealed(taskId, piece, start, length);
    return this.readContent(taskId, pieceNumber, piece.offset + start, length);
  }

  /**
   * `length` plain bytes from `start` of an encrypted piece, decrypted as they are read; the whole
   * piece is authenticated before the range's last bytes are given (see sealedRange).
   */
  private async readSealed(taskId: string, piece: StoredPiece, start: number, length: number): Promise<PieceReadable> {
    if (length === 0) return Readable.from([], { objectMode: false });
    const opener = this.cipher!.opener({ taskId, number: piece.number, offset: piece.offset, length: piece.length }, piece.seal);
    const what = `reading piece ${piece.number} of task ${taskId}`;
    const { handle, release } = await this.readers.acquire(this.contentPath(taskId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw pieceNotFound(taskId, piece.number, this.name);
      throw fsFailure(err, this.dir, what);
    });
    return sealedRange(handle, opener, piece, { start, length }, release, {
      notFound: () => pieceNotFound(taskId, piece.number, this.name), failure: (err) => fsFailure(err, this.dir, what),
    });
  }

  /** `length` bytes of the task's content file from `position`, in pooled buffers. */
  private async readContent(taskId: string, pieceNumber: number, position: number, length: number): Promise<PieceReadable> {
    if (length === 0) return Readable.from([], { objectMode: false });
    const { handle, release } = await this.contentReader(taskId, pieceNumber);
    return pooledFileRange(handle, position, length, release);
  }

  /** A shared read handle on the task's content file; D7Y_PIECE_NOT_FOUND when the file is gone. */
  private contentReader(taskId: string, pieceNumber: number): Promise<{ handle: FileHandle; release: () => void }> {
    return this.readers.acquire(this.contentPath(taskId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw pieceNotFound(taskId, pieceNumber, this.name);
      throw fsFailure(err, this.dir, `reading piece ${pieceNumber} of task ${taskId}`);
    });
  }

  /**
   * The bytes of `range` of a piece being written (within what `onWritten` reported) or held, read
   * from the content file into pooled buffers (`recycle` gives them back). Rejects with
   * D7Y_PIECE_NOT_FOUND when the piece is neither, D7Y_INVALID_ARGUMENT for a range outside the
   * written bytes or bounds that are not the piece's.
   */
  async readWritten(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }): Promise<PieceReadable> {
    this.assertRunning();
    const task = this.tasks.get(taskId);
    const held = task?.pieces.get(piece.number);
    const filling = held ? undefined : task?.filling.get(piece.number);
    const bounds = held ?? filling;
    if (!task || !bounds) throw pieceNotFound(taskId, piece.number, this.name);
    const { start, length } = checkWrittenRange(taskId, { number: piece.number, offset: bounds.offset, length: bounds.length }, piece, range, filling?.written ?? bounds.length);
    this.touch(task);
    if (held && this.cipher) return this.readSealed(taskId, held, start, length);
    if (filling?.nonce && this.cipher) {
      const reader = this.cipher.unsealedReader(filling.nonce, start);
      const sealed = await this.readContent(taskId, piece.number, bounds.offset + start, length);
      const plain = Readable.from(unsealedChunks(sealed, reader), { objectMode: false });
      return plain.once('close', () => sealed.destroy());
    }
    return this.readContent(taskId, piece.number, bounds.offset + start, length);
  }

  /**
   * `range` of a piece being written (or held) as one stream over one read handle, following
   * `progress` (see StorageMedium.followWritten); undefined when pieces are encrypted at rest (the
   * caller reads the written bytes with `readWritten`, which decrypts them).
   */
  async followWritten(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number },
    progress: WrittenProgress): Promise<PieceReadable | undefined> {
    this.assertRunning();
    if (this.cipher) return undefined;
    const task = this.tasks.get(taskId);
    const bounds = task?.pieces.get(piece.number) ?? task?.filling.get(piece.number);
    if (!task || !bounds) throw pieceNotFound(taskId, piece.number, this.name);
    const { start, length } = checkWrittenRange(taskId, { number: piece.number, offset: bounds.offset, length: bounds.length }, piece, range, bounds.length);
    this.touch(task);
    if (length === 0) return Readable.from([], { objectMode: false });
    const { handle, release } = await this.contentReader(taskId, piece.number);
    return followedFileRange(handle, bounds.offset, start, length, progress, release);
  }

  /** See StorageMedium.keepsPlainFile: not when pieces are encrypted at rest. */
  keepsPlainFile(): boolean {
    return !this.cipher;
  }

  /** See StorageMedium.fileSpan: the content file's shared read handle; undefined when pieces are encrypted at rest. */
  async fileSpan(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }): Promise<{ fd: number; position: number; release: () => void } | undefined> {
    this.assertRunning();
    if (this.cipher) return undefined;
    const task = this.tasks.get(taskId);
    const bounds = task?.pieces.get(piece.number) ?? task?.filling.get(piece.number);
    if (!task || !bounds) throw pieceNotFound(taskId, piece.number, this.name);
    const { start } = checkWrittenRange(taskId, { number: piece.number, offset: bounds.offset, length: bounds.length }, piece, range, bounds.length);
    this.touch(task);
    const { handle, release } = await this.contentReader(taskId, piece.number);
    return { fd: handle.fd, position: bounds.offset + start, release };
  }

  async hasPiece(taskId: string, pieceNumber: number): Promise<boolean> {
    return this.tasks.get(taskId)?.pieces.has(pieceNumber) ?? false;
  }

  async listPieces(taskId: string): Promise<PieceRecord[]> {
    const task = this.tasks.get(taskId);
    return task ? [...task.pieces.values()].map(publicRecord).sort((a, b) => a.number - b.number) : [];
  }

  async deleteTask(taskId: string): Promise<void> {
    await this.evict(taskId, 'delete');
  }

  async stats(): Promise<StorageStats> {
    const quota = this.options.quota;
    const fs = await this.fsStep('reading file system usage', () => statfs(this.dir));
    const fsFree = fs.bavail * fs.bsize;
    const free = quota === undefined ? fsFree : Math.min(fsFree, Math.max(0, quota - this.used - this.reserved));
    return { usedBytes: this.used, freeBytes: free, taskCount: this.tasks.size };
  }

  /** The file holding the task's bytes at their offsets (only recorded pieces are valid in it). */
  taskFilePath(taskId: string): string | undefined {
    // An encrypted file is no use to a reader outside the medium.
    return this.tasks.has(taskId) && !this.cipher ? this.contentPath(taskId) : undefined;
  }

  /** Runs one GC pass now (TTL, then watermarks); resolves with what it removed. */
  gc(): Promise<StorageGcReport> {
    this.assertRunning();
    return this.collector.run();
  }

  private async evict(taskId: string, reason: string): Promise<number> {
    const task = this.tasks.get(taskId);
    if (!task) return 0;
    this.tasks.delete(taskId);
    task.deleted = true;
    this.used -= task.bytes;
    this.readers.retire(this.contentPath(taskId));
    const removal = this.fsStep(`deleting task ${taskId}`, async () => {
      await task.log.remove();
      await rm(this.contentPath(taskId), { force: true });
    });
    const settled = removal.catch(() => undefined);
    this.removals.set(taskId, settled);
    try {
      await removal;
    } finally {
      if (this.removals.get(taskId) === settled) this.removals.delete(taskId);
    }
    if (reason !== 'delete') this.logger.info({ taskId, reason, bytes: task.bytes }, 'disk storage evicted a task');
    return task.bytes;
  }

  /** Usage as a fraction of the quota when one is set, else of the file system holding `dir`. */
  private async usage(): Promise<number> {
    if (this.options.quota !== undefined) return (this.used + this.reserved) / Math.max(1, this.options.quota);
    const fs = await this.fsStep('reading file system usage', () => statfs(this.dir));
    return fs.blocks === 0 ? 0 : (fs.blocks - fs.bfree) / fs.blocks;
  }

  /** Reserves quota for a piece, evicting idle finished tasks least recently used first, or D7Y_STORAGE_FULL. */
  private async reserve(length: number, writer: DiskTask, what: string): Promise<void> {
    const quota = this.options.quota;
    if (quota === undefined) return void (this.reserved += length);
    for (;;) {
      if (this.used + this.reserved + length <= quota) return void (this.reserved += length);
      const victims = [...this.tasks.values()]
        .filter((t) => t !== writer && t.record.finished && !t.record.pinned && t.writers === 0 && t.bytes > 0)
        .sort((a, b) => a.record.lastAccessedAt - b.record.lastAccessedAt);
      const evictable = victims.reduce((n, t) => n + t.bytes, 0);
      if (this.used - evictable + this.reserved + length > quota) {
        throw new D7yError('D7Y_STORAGE_FULL',
          `disk storage at ${this.dir} reached its quota of ${formatBytes(quota)}: ${what} needs ${formatBytes(length)} and evicting every finished, unpinned task would not make room`, {
            fix: 'raise the disk storage "quota" in plugins.json, or delete tasks you no longer need',
            details: { dir: this.dir, quota, used: this.used, reserved: this.reserved, needed: length },
          });
      }
      await this.evict(victims[0].record.taskId, 'quota');
    }
  }

  private openFile(task: DiskTask): Promise<ContentFile> {
    task.file ??= (async () => {
      const path = this.contentPath(task.record.taskId);
      await mkdir(dirname(path), { recursive: true });
      const created = await stat(path).then(() => false, () => true);
      const file = await ContentFile.open(path);
      if (created) await syncDir(dirname(path));
      return file;
    })();
    const opening = task.file;
    opening.catch(() => { if (task.file === opening) task.file = undefined; });
    return opening;
  }

  private touch(task: DiskTask): void {
    task.record.lastAccessedAt = this.now();
    if (task.record.lastAccessedAt - task.persistedAccess >= TOUCH_PERSIST_MS) this.persistTouch(task);
  }

  private persistTouch(task: DiskTask): void {
    const at = task.record.lastAccessedAt;
    task.persistedAccess = at;
    task.log.append({ op: 'touch', at }, () => this.snapshot(task, task.record), this.compactAbove(task))
      .catch((err: unknown) => this.logger.warn({ err, taskId: task.record.taskId }, 'disk storage could not record an access time'));
  }

  /** The log entries of the task: pieces still waiting for their group commit are logged as `written`. */
  private snapshot(task: DiskTask, record: TaskRecord): TaskLogEntry[] {
    return taskSnapshot(record, task.pieces, new Set(task.unlogged.map((p) => p.number)));
  }

  /**
   * Logs a piece whose bytes are in the content file as `written` before the write resolves, so a
   * process killed before the group commit keeps it (checked against its digest at the next start).
   * A failure only delays that to the commit: the piece stays held and served.
   */
  private async logWritten(task: DiskTask, piece: StoredPiece): Promise<void> {
    await task.log.append({ op: 'written', piece }, () => this.snapshot(task, task.record), this.compactAbove(task))
      .catch((err: unknown) => this.logger.warn({ err, taskId: task.record.taskId, piece: piece.number }, 'disk storage could not log a written piece; the group commit will'));
  }

  /** Whether the content file holds the bytes of a piece logged as written (decrypted and authenticated first when encrypted). */
  private async intact(taskId: string, piece: StoredPiece): Promise<boolean> {
    const bytes = Buffer.allocUnsafe(piece.length);
    const handle = await open(this.contentPath(taskId), 'r');
    try {
      const { bytesRead } = await handle.read(bytes, 0, piece.length, piece.offset);
      if (bytesRead !== piece.length) return false;
    } finally {
      await handle.close();
    }
    let plain = bytes;
    if (this.cipher) {
      const opener = this.cipher.opener({ taskId, number: piece.number, offset: piece.offset, length: piece.length }, piece.seal);
      plain = Buffer.concat(opener.update(bytes));
      opener.check();
    }
    return pieceDigest(plain) === piece.digest;
  }

  /**
   * Makes the task's unlogged pieces durable (one fdatasync of the content file) and then logs
   * them, after any commit already running; a task record written next follows its pieces.
   */
  private commit(task: DiskTask): Promise<void> {
    clearTimeout(task.commitTimer);
    task.commitTimer = undefined;
    const run = task.committing.catch(() => undefined).then(async () => {
      if (task.deleted || task.unlogged.length === 0) return;
      const batch = task.unlogged.splice(0);
      const what = `${batch.length} piece(s) of task ${task.record.taskId}`;
      try {
        await this.fsStep(`syncing ${what}`, async () => {
          const handle = await open(this.contentPath(task.record.taskId), 'r+');
          try {
            await handle.datasync();
          } finally {
            await handle.close();
          }
        });
        if (task.deleted) return;
        await this.fsStep(`recording ${what}`, () => task.log.append(batch.map((piece): TaskLogEntry => ({ op: 'piece', piece })),
          () => this.snapshot(task, task.record), this.compactAbove(task)));
      } catch (err) {
        // Back in the queue: the next commit syncs and logs them, and no snapshot logs them before.
        task.unlogged.unshift(...batch);
        if (!task.deleted) this.logger.warn({ err, taskId: task.record.taskId }, 'disk storage could not log pieces yet; they are served and the next commit tries again');
        throw err;
      }
    });
    task.committing = run;
    return run;
  }

  private compactAbove(task: DiskTask): number {
    return 3 * task.pieces.size + 64;
  }

  private contentPath(taskId: string): string {
    return diskPaths(this.dir, taskId).content;
  }

  private logPath(taskId: string): string {
    return diskPaths(this.dir, taskId).log;
  }

  private async fsStep<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw fsFailure(err, this.dir, what);
    }
  }

  private assertRunning(): void {
    if (!this.running) throw notRunning(`disk storage at ${this.dir}`);
  }
}

/** Pushes each chunk; a promise when any push started a write. */
function pushAll(writer: ContentWriter, chunks: Buffer[]): Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  for (const chunk of chunks) {
    const p = writer.push(chunk);
    if (p) pending = pending ? Promise.all([pending, p]).then(() => undefined) : p;
  }
  return pending;
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
