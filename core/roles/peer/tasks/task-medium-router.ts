import type { Readable } from 'node:stream';
import { isPieceFeed } from '../../../contracts/storage-medium.js';
import type { PieceInput, PieceReadable, PieceRecord, StorageGcReport, StorageMedium, StorageStats, TaskRecord, WritePieceOptions, WrittenProgress } from '../../../contracts/storage-medium.js';
import { D7yError, isD7yError } from '../../../errors/d7y-error.js';
import { pieceFeedStream } from '../../../task/piece-feed-stream.js';
import type { Logger } from '../../../logging/logger.js';
import type { StorageRegistry } from '../../../registry/storage-registry.js';

/** Placements kept before those of evicted tasks are pruned. */
const MAX_PLACED = 4096;

/**
 * The peer's storage as one medium: tasks live in the peer's own medium (`peer.storage.medium`)
 * unless a download asked for another one (`options.storage`, e.g. `memory` for a preheat with
 * `load_to_memory`); every call on a task goes to the medium that holds it. Other media are
 * taken from the storage registry and started on first use.
 */
export class TaskMediumRouter implements StorageMedium {
  /** Feeds reach media that take them; the others get a stream (see writePiece). */
  readonly takesFeeds = true;
  private readonly placed = new Map<string, StorageMedium>();
  private readonly others = new Map<string, StorageMedium>();
  private written = 0;

  constructor(
    private readonly primary: StorageMedium,
    private readonly registry: StorageRegistry,
    private readonly logger: Logger,
  ) {}

  get name(): string {
    return this.primary.name;
  }

  /** The name of the medium holding (or about to hold) the task. */
  mediumOf(taskId: string): string {
    return this.of(taskId).name;
  }

  /**
   * Puts a new task in the named medium. A task already held somewhere stays where it is.
   * Rejects with D7Y_MISSING_DEPENDENCY naming the plugin when the medium is not loaded.
   */
  async place(taskId: string, mediumName: string): Promise<void> {
    if (mediumName === this.primary.name || this.placed.has(taskId)) return;
    if (!this.registry.has(mediumName)) {
      throw new D7yError('D7Y_MISSING_DEPENDENCY', `the download asks for the "${mediumName}" storage medium, which this peer has not loaded`, {
        fix: `enable the "${mediumName}" storage plugin for the peer in plugins.json and restart the peer (or preheat without load_to_memory)`,
      });
    }
    if (await this.primary.getTask(taskId)) return;
    let medium = this.others.get(mediumName);
    if (!medium) {
      medium = this.registry.get(mediumName);
      await medium.start();
      this.others.set(mediumName, medium);
      this.logger.info({ medium: mediumName }, 'storage medium started for tasks that ask for it');
    }
    this.placed.set(taskId, medium);
    if (this.placed.size > MAX_PLACED) await this.forgetEvicted(taskId);
  }

  /** Drops placements of tasks their medium no longer holds (evicted by its own GC). */
  private async forgetEvicted(keep: string): Promise<void> {
    for (const [taskId, medium] of [...this.placed]) {
      if (taskId !== keep && !(await medium.getTask(taskId))) this.placed.delete(taskId);
    }
  }

  async start(): Promise<void> {
    await this.primary.start();
  }

  async stop(): Promise<void> {
    for (const m of this.others.values()) await m.stop().catch(() => undefined);
    this.others.clear();
    this.placed.clear();
    await this.primary.stop();
  }

  putTask(record: Parameters<StorageMedium['putTask']>[0]): Promise<TaskRecord> {
    return this.of(record.taskId).putTask(record);
  }

  getTask(taskId: string): Promise<TaskRecord | undefined> {
    return this.of(taskId).getTask(taskId);
  }

  async listTasks(): Promise<TaskRecord[]> {
    const lists = await Promise.all([this.primary, ...this.others.values()].map((m) => m.listTasks()));
    return lists.flat();
  }

  /** Passes a PieceFeed on as it is to media that take feeds, as a stream to the others; `opts` as they are. */
  writePiece(taskId: string, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest?: string, opts?: WritePieceOptions): Promise<PieceRecord> {
    const medium = this.of(taskId);
    const input = isPieceFeed(data) && !medium.takesFeeds ? pieceFeedStream(data) : data;
    return medium.writePiece(taskId, piece, input, expectedDigest, opts).then((r) => {
      this.written += r.length;
      return r;
    });
  }

  /** Bytes of the pieces written since start (downloaded from parents or the origin, or imported). */
  get writtenBytes(): number {
    return this.written;
  }

  /** The medium's `followWritten`; undefined when it has none (the caller reads with `readWritten`). */
  async followWritten(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number },
    progress: WrittenProgress): Promise<PieceReadable | undefined> {
    const medium = this.of(taskId);
    return medium.followWritten?.(taskId, piece, range, progress);
  }

  /** Whether the task's medium has a `fileSpan` that can give its bytes. */
  keepsPlainFile(taskId: string): boolean {
    const medium = this.of(taskId);
    return medium.fileSpan !== undefined && medium.keepsPlainFile?.(taskId) !== false;
  }

  /** The medium's `fileSpan`; undefined when it has none (the caller reads the piece as a stream). */
  async fileSpan(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }): Promise<{ fd: number; position: number; release: () => void } | undefined> {
    return this.of(taskId).fileSpan?.(taskId, piece, range);
  }

  /**
   * The medium's `readWritten`. A medium without one (it never calls `onWritten`) serves only held
   * pieces, through `readPiece`; a piece it is still writing is D7Y_PIECE_NOT_FOUND.
   */
  async readWritten(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }): Promise<PieceReadable> {
    const medium = this.of(taskId);
    if (medium.readWritten) return medium.readWritten(taskId, piece, range);
    try {
      return await medium.readPiece(taskId, piece.number, range);
    } catch (err) {
      if (!isD7yError(err, 'D7Y_PIECE_NOT_FOUND')) throw err;
      throw new D7yError('D7Y_PIECE_NOT_FOUND',
        `piece ${piece.number} of task ${taskId} is not held by the "${medium.name}" storage medium, which cannot serve pieces being written`, {
          fix: 'ask for the piece once it is whole, or store the task in a medium that serves pieces being written (disk, memory)',
          cause: err,
        });
    }
  }

  readPiece(taskId: string, pieceNumber: number, range?: { start: number; length: number }): Promise<PieceReadable> {
    return this.of(taskId).readPiece(taskId, pieceNumber, range);
  }

  hasPiece(taskId: string, pieceNumber: number): Promise<boolean> {
    return this.of(taskId).hasPiece(taskId, pieceNumber);
  }

  listPieces(taskId: string): Promise<PieceRecord[]> {
    return this.of(taskId).listPieces(taskId);
  }

  async deleteTask(taskId: string): Promise<void> {
    const medium = this.of(taskId);
    this.placed.delete(taskId);
    await medium.deleteTask(taskId);
  }

  async stats(): Promise<StorageStats> {
    const all = await Promise.all([this.primary, ...this.others.values()].map((m) => m.stats()));
    return all.reduce((a, b) => ({ usedBytes: a.usedBytes + b.usedBytes, freeBytes: a.freeBytes + b.freeBytes, taskCount: a.taskCount + b.taskCount }));
  }

  taskFilePath(taskId: string): string | undefined {
    return this.of(taskId).taskFilePath?.(taskId);
  }

  async gc(): Promise<StorageGcReport> {
    const reports = await Promise.all([this.primary, ...this.others.values()].map((m) => m.gc?.() ?? Promise.resolve({ evicted: [] })));
    return { evicted: reports.flatMap((r) => r.evicted) };
  }

  private of(taskId: string): StorageMedium {
    return this.placed.get(taskId) ?? this.primary;
  }
}
