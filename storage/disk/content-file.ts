import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { pieceBuffers } from '../../core/index.js';
import { WrittenPrefix } from './written-prefix.js';
import { inlineIo, skipBytes, type InlineIo } from './inline-io.js';

/** Bytes gathered before one positioned write (a pool buffer's size); a piece is never held whole. */
const WRITE_BATCH = pieceBuffers.size;
/** Batches of one copying writer queued for the threadpool at once (1 MiB); the file writes one at a time. */
const WRITES_IN_FLIGHT = 4;

/**
 * Called as batches land in the file with how many leading bytes of the writer's range are in it
 * without gaps; never decreases, and never called after a batch failed.
 */
export type OnWritten = (bytes: number) => void;

/** Writes consecutive bytes into a content file; `flush()` after the last `push`. */
export interface ContentWriter {
  /** Takes a chunk; returns a promise only when it starts a write (a batch is full), so gathering costs no tick. */
  push(chunk: Buffer): Promise<void> | undefined;
  flush(): Promise<void>;
}

/**
 * The open content file of one task while pieces are written into it: positioned writes at any
 * offset from several writers at once. The owner counts its writers and closes the file after
 * the last one (durability is the owner's group commit).
 */
export class ContentFile {
  /**
   * The file's last threadpool write: the next one starts when it ends. On ext4 a buffered write
   * holds the file's inode lock for its copy into the page cache, so writes in flight side by side
   * only wait for each other, and the kernel's waiters spin for the lock on the CPU the copy needs
   * (a fifth of a receiving peer's CPU in `perf` when the page cache was slow).
   */
  private lastWrite: Promise<unknown> = Promise.resolve();

  private constructor(readonly path: string, private readonly handle: FileHandle, private readonly io: InlineIo) {}

  /** Opens (creating if missing) the file for positioned reads and writes; `io` decides where writes run. */
  static async open(path: string, io: InlineIo = inlineIo): Promise<ContentFile> {
    return new ContentFile(path, await open(path, constants.O_RDWR | constants.O_CREAT, 0o644), io);
  }

  /** Closes the handle; the caller makes sure no write is still running. */
  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  /**
   * A writer of consecutive bytes starting at `position` that keeps the pushed chunks until
   * written; `onWritten` hears of each batch that landed.
   */
  writer(position: number, onWritten?: OnWritten): ContentWriter {
    const prefix = onWritten && new WrittenPrefix(position, onWritten);
    let batch: Buffer[] = [];
    let batched = 0;
    let next = position;
    const writeBatch = (): Promise<void> | undefined => {
      if (batched === 0) return undefined;
      const buffers = batch;
      const at = next;
      const length = batched;
      batch = [];
      next += batched;
      batched = 0;
      return this.writeAndReport(buffers, at, length, prefix);
    };
    return {
      push: (chunk) => {
        batch.push(chunk);
        batched += chunk.length;
        return batched >= WRITE_BATCH ? writeBatch() : undefined;
      },
      flush: async () => { await writeBatch(); },
    };
  }

  /**
   * A writer of consecutive bytes starting at `position` that copies each chunk into a pooled
   * batch buffer: for chunks that are only valid during the call (a PieceFeed's); a chunk that is
   * one whole batch at a batch boundary is written at once, inline, without the copy. While writes
   * go to the threadpool, up to WRITES_IN_FLIGHT batches are queued at once and `push` returns a
   * promise only when that many are, so the feed keeps reading its socket while the disk writes;
   * a failed write rejects the next `push` or `flush`. `onWritten` hears of each batch that landed.
   */
  copyingWriter(position: number, onWritten?: OnWritten): ContentWriter {
    const prefix = onWritten && new WrittenPrefix(position, onWritten);
    let batch: Buffer | undefined;
    let filled = 0;
    let next = position;
    /** Threadpool writes not yet settled; each gives its batch back and leaves the set when done. */
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const room = (): Promise<void> | undefined => {
      if (failure !== undefined) return Promise.reject(failure);
      return inFlight.size < WRITES_IN_FLIGHT ? undefined : Promise.race(inFlight);
    };
    const track = (wrote: Promise<void>, b: Buffer | undefined): void => {
      const settled: Promise<void> = wrote.catch((err: unknown) => {
        failure ??= err;
        throw err;
      }).finally(() => {
        if (b) pieceBuffers.give(b);
        inFlight.delete(settled);
      });
      // Its failure reaches the feed through the next push, `room` or `flush`.
      settled.catch(() => undefined);
      inFlight.add(settled);
    };
    const writeBatch = (): void => {
      const b = batch as Buffer;
      const wrote = this.writeAndReport([b.subarray(0, filled)], next, filled, prefix);
      next += filled;
      batch = undefined;
      filled = 0;
      if (wrote) track(wrote, b);
      else pieceBuffers.give(b);
    };
    return {
      push: (chunk) => {
        if (failure !== undefined) return Promise.reject(failure);
        if (filled === 0 && chunk.length === WRITE_BATCH && this.io.inline) {
          // A whole batch (a Vortex feed's chunk) written while valid: no copy.
          const at = next;
          next += WRITE_BATCH;
          const wrote = this.writeAndReport([chunk], at, WRITE_BATCH, prefix);
          // Written inline, or failed (a rejected promise): nothing of the chunk is kept.
          if (wrote) track(wrote, undefined);
          return wrote ?? room();
        }
        for (let off = 0; off < chunk.length;) {
          batch ??= pieceBuffers.take();
          const n = chunk.copy(batch, filled, off);
          filled += n;
          off += n;
          if (filled === batch.length) writeBatch();
        }
        return room();
      },
      flush: async () => {
        if (batch && filled > 0) writeBatch();
        else if (batch) {
          pieceBuffers.give(batch);
          batch = undefined;
        }
        await Promise.all(inFlight);
        if (failure !== undefined) throw failure;
      },
    };
  }

  /**
   * Writes `buffers` at `position` and reports them landed: inline while the page cache takes
   * writes at once (undefined, or a rejected promise when the write failed), else on the
   * threadpool (a promise).
   */
  private writeAndReport(buffers: Buffer[], position: number, length: number, prefix: WrittenPrefix | undefined): Promise<void> | undefined {
    if (this.io.inline) {
      try {
        this.io.writeAll(this.handle.fd, buffers, position);
      } catch (err) {
        prefix?.fail();
        return Promise.reject(named(err, this.path));
      }
      prefix?.landed(position, position + length);
      return undefined;
    }
    return this.writeAll(buffers, position).then(() => prefix?.landed(position, position + length), (err: unknown) => {
      prefix?.fail();
      throw err;
    });
  }

  /** Writes `buffers` at `position` on the threadpool, after the file's writes already queued there. */
  private writeAll(buffers: Buffer[], position: number): Promise<void> {
    const wrote = this.lastWrite.then(() => this.writeNow(buffers, position));
    this.lastWrite = wrote.catch(() => undefined);
    return wrote;
  }

  private async writeNow(buffers: Buffer[], position: number): Promise<void> {
    let rest = buffers;
    let at = position;
    while (rest.length > 0) {
      const { bytesWritten } = await this.handle.writev(rest, at);
      if (bytesWritten <= 0) throw Object.assign(new Error(`no bytes written to ${this.path}`), { code: 'EIO' });
      at += bytesWritten;
      rest = skipBytes(rest, bytesWritten);
    }
  }
}

/** An inline write's error, naming the file as the threadpool's would. */
function named(err: unknown, path: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && e.path === undefined) e.path = path;
  return e;
}
