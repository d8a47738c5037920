import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { createHash } from 'node:crypto';
import type { StorageMedium } from '../../../contracts/storage-medium.js';
import { formatDuration } from '../../../config/units.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { CacheImportRequest } from '../../../protocol/local-api/cache-api.js';
import { pieceBounds, pieceCount, pieceLengthFor, validatePieceLength, formatBytes, MAX_PIECE_LENGTH } from '../../../task/piece-length.js';
import { PersistentCacheTaskIdHasher, persistentCacheTaskIdOf } from '../../../task/persistent-cache-task-id.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import type { TaskState } from '../tasks/task-state.js';
import { TrafficType } from '../tasks/task-state.js';
import type { CacheMeta } from './cache-meta-store.js';

export interface ImportLimits {
  minTtl: number;
  maxTtl: number;
  maxReplicas: number;
  pieceLengthMin: number;
}

/** Pieces written at once by an import, and the bytes they may hold in memory together. */
const MAX_WRITES = 4;
const WRITE_BUDGET = 64 * 1024 * 1024;

/** What an import reports while it runs. */
export type ImportProgress = (p: { phase: 'hashing' | 'importing'; bytes: number; total: number }) => void;

/** The facts of a file as it was when the import began; any change of them means the file changed. */
interface FileStamp { size: number; mtimeMs: number; ctimeMs: number; ino: number }

/**
 * Reads a local file into the peer's storage as a persistent-cache task: checks the request (TTL,
 * replicas, piece length, the file, the room left), computes the task id (from the content, tag,
 * application and piece length, unless the user named it), writes the pieces pinned, and refuses
 * a file that changed on the way. A failed import leaves nothing behind (the caller's `undo`).
 */
export class CacheImporter {
  constructor(
    private readonly catalog: TaskCatalog,
    private readonly medium: StorageMedium,
    private readonly limits: ImportLimits,
  ) {}

  /** Checks what can be checked before any byte is read; resolves to the file's size and piece length. */
  async check(req: CacheImportRequest): Promise<{ size: number; pieceLength: number; stamp: FileStamp }> {
    const { minTtl, maxTtl, maxReplicas } = this.limits;
    if (req.ttlMs < minTtl || req.ttlMs > maxTtl) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `--ttl ${formatDuration(req.ttlMs)} is out of range: it must be from ${formatDuration(minTtl)} to ${formatDuration(maxTtl)}`, {
        fix: `give a --ttl from ${formatDuration(minTtl)} to ${formatDuration(maxTtl)}, e.g. --ttl 1h`,
      });
    }
    const replicas = req.replicas ?? 2;
    if (replicas < 1 || replicas > maxReplicas) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `--replicas ${replicas} is out of range: it must be from 1 to ${maxReplicas}`, { fix: 'give --replicas 1 or more, e.g. --replicas 2' });
    }
    if (!isAbsolute(req.path)) throw new D7yError('D7Y_INVALID_ARGUMENT', `${req.path} is not an absolute path`, { fix: 'give the daemon an absolute path' });
    const st = await stat(req.path).catch((err: NodeJS.ErrnoException) => {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `cannot read ${req.path}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied (to the daemon)' : err.message}`, {
        fix: err.code === 'EACCES' ? 'make the file readable by the user the daemon runs as' : 'check the path', cause: err,
      });
    });
    if (!st.isFile()) throw new D7yError('D7Y_INVALID_ARGUMENT', `${req.path} is not a regular file`, { fix: 'import one file at a time' });
    const limits = { min: this.limits.pieceLengthMin, max: MAX_PIECE_LENGTH };
    const pieceLength = req.pieceLength !== undefined ? validatePieceLength(req.pieceLength, limits) : pieceLengthFor(st.size, limits);
    const { freeBytes } = await this.medium.stats();
    if (freeBytes < st.size) {
      throw new D7yError('D7Y_STORAGE_FULL', `no room for ${req.path} (${formatBytes(st.size)}) in the ${this.medium.name} storage: ${formatBytes(freeBytes)} free, and persistent copies are never evicted to make room`, {
        fix: 'free space in the peer data directory (d7y cache rm, d7y task rm), or import on a peer with more room',
      });
    }
    return { size: st.size, pieceLength, stamp: stampOf(st) };
  }

  /** The task id: the user's name, or Dragonfly's id of the content (one read of the file). */
  async taskIdOf(req: CacheImportRequest, size: number, stamp: FileStamp, progress: ImportProgress, signal: AbortSignal): Promise<{ taskId: string; digest?: string }> {
    if (req.id !== undefined) return { taskId: persistentCacheTaskIdOf(req.id) };
    const hasher = new PersistentCacheTaskIdHasher();
    let bytes = 0;
    for await (const chunk of createReadStream(req.path, { highWaterMark: 1024 * 1024, signal })) {
      hasher.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      progress({ phase: 'hashing', bytes, total: size });
    }
    await this.unchanged(req.path, stamp);
    const { taskId, contentDigest } = hasher.digest({ tag: req.tag, application: req.application, pieceLength: req.pieceLength });
    return { taskId, digest: contentDigest };
  }

  /**
   * Writes the file's pieces into `state` (the task's record created pinned), in order, and the
   * record finished with the content digest. Rejects when the file changed (D7Y_CONFLICT) or the
   * storage filled (D7Y_STORAGE_FULL); the caller undoes the task.
   */
  async write(req: CacheImportRequest, state: TaskState, o: { size: number; pieceLength: number; stamp: FileStamp; digest?: string },
    progress: ImportProgress, signal: AbortSignal): Promise<string> {
    const taskId = state.taskId;
    state.record = await this.medium.putTask({ taskId, contentLength: o.size, pieceLength: o.pieceLength, pinned: true });
    const content = createHash('sha256');
    const count = pieceCount(o.size, o.pieceLength);
    // Pieces are read in order (the content digest needs them so) and written several at once,
    // at most WRITE_BUDGET bytes in flight.
    const inFlight = new Set<Promise<void>>();
    const most = Math.max(1, Math.min(MAX_WRITES, Math.floor(WRITE_BUDGET / o.pieceLength)));
    let failed: unknown;
    let bytes = 0;
    const file = await open(req.path, 'r');
    try {
      for (let n = 0; n < count && failed === undefined; n += 1) {
        signal.throwIfAborted();
        const { offset, length } = pieceBounds(n, o.size, o.pieceLength);
        const buf = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await file.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) throw changed(req.path);
          got += bytesRead;
        }
        content.update(buf);
        const write = this.medium.writePiece(taskId, { number: n, offset, length }, buf).then((rec) => {
          state.addPiece({ ...rec, trafficType: TrafficType.LocalPeer, createdAt: Date.now() });
          bytes += length;
          progress({ phase: 'importing', bytes, total: o.size });
        }, (err: unknown) => { failed ??= err; });
        inFlight.add(write);
        void write.finally(() => inFlight.delete(write));
        if (inFlight.size >= most) await Promise.race(inFlight);
      }
    } finally {
      // Whatever happened, no write is left running when the caller keeps or undoes the task.
      await Promise.allSettled(inFlight);
      await file.close();
    }
    if (failed !== undefined) throw storageError(failed, req.path);
    await this.unchanged(req.path, o.stamp);
    const digest = `sha256:${content.digest('hex')}`;
    if (o.digest && o.digest !== digest) throw changed(req.path);
    state.record = await this.medium.putTask({ ...state.record, finished: true, pinned: true, digest });
    return digest;
  }

  /** The meta a finished import keeps. */
  meta(req: CacheImportRequest, taskId: string, o: { size: number; pieceLength: number; digest: string }, now: number): CacheMeta {
    return {
      taskId, name: req.id !== undefined && req.id !== taskId ? req.id : undefined, tag: req.tag, application: req.application,
      contentLength: o.size, pieceLength: o.pieceLength, pieceCount: pieceCount(o.size, o.pieceLength), digest: o.digest,
      replicas: req.replicas ?? 2, ttlMs: req.ttlMs, createdAt: now, persistent: true,
    };
  }

  private async unchanged(path: string, was: FileStamp): Promise<void> {
    const now = await stat(path).catch(() => undefined);
    if (!now || JSON.stringify(stampOf(now)) !== JSON.stringify(was)) throw changed(path);
  }
}

function stampOf(st: { size: number; mtimeMs: number; ctimeMs: number; ino: number }): FileStamp {
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
}

function changed(path: string): D7yError {
  return new D7yError('D7Y_CONFLICT', `${path} changed while it was being imported; nothing was kept`, {
    fix: 'import it again once nothing writes to it any more (or import a copy of it)',
  });
}

/** A write that failed for want of room, as the user should read it; other errors as they are. */
export function storageError(err: unknown, what: string): D7yError {
  const e = toD7yError(err, 'D7Y_STORAGE_ERROR');
  if (e.code === 'D7Y_STORAGE_FULL' || /ENOSPC|no space left/i.test(e.message)) {
    return new D7yError('D7Y_STORAGE_FULL', `the peer's storage filled up while writing ${what}; nothing was kept, and no persistent copy was evicted`, {
      fix: 'free space in the peer data directory (d7y cache rm, d7y task rm), then import again', cause: err,
    });
  }
  return e;
}
