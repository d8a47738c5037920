import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { pieceBuffers } from '../../core/index.js';
import { WrittenPrefix } from './written-prefix.js';
import { inlineIo, skipBytes } from './inline-io.js';

/** Bytes gathered before one positioned write (a pool buffer's size); a piece is never held whole. */
const WRITE_BATCH = pieceBuffers.size;

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
  private constructor(readonly path: string, private readonly handle: FileHandle) {}

  /** Opens (creating if missing) the file for positioned reads and writes. */
  static async open(path: string): Promise<ContentFile> {
    return new ContentFile(path, await open(path, constants.O_RDWR | constants.O_CREAT, 0o644));
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
   * A writer of consecutive bytes starting at `position` that copies each chunk into a reused
   * batch buffer: for chunks that are only valid during the call (a PieceFeed's); a chunk that is
   * one whole batch at a batch boundary is written at once, inline, without the copy. `onWritten`
   * hears of each batch that landed.
   */
  copyingWriter(position: number, onWritten?: OnWritten): ContentWriter {
    const prefix = onWritten && new WrittenPrefix(position, onWritten);
    let batch: Buffer | undefined;
    let filled = 0;
    let next = position;
    const write = (b: Buffer, length: number, at: number): Promise<void> | undefined => {
      const wrote = this.writeAndReport([b.subarray(0, length)], at, length, prefix);
      if (wrote) return wrote.finally(() => pieceBuffers.give(b));
      pieceBuffers.give(b);
      return undefined;
    };
    const writeBatch = (): Promise<void> | undefined => {
      const b = batch as Buffer;
      const p = write(b, filled, next);
      next += filled;
      batch = undefined;
      filled = 0;
      return p;
    };
    return {
      push: (chunk) => {
        if (filled === 0 && chunk.length === WRITE_BATCH && inlineIo.inline) {
          // A whole batch (a Vortex feed's chunk) written while valid: no copy.
          const at = next;
          next += WRITE_BATCH;
          return this.writeAndReport([chunk], at, WRITE_BATCH, prefix);
        }
        let pending: Promise<void> | undefined;
        for (let off = 0; off < chunk.length;) {
          batch ??= pieceBuffers.take();
          const n = chunk.copy(batch, filled, off);
          filled += n;
          off += n;
          if (filled === batch.length) {
            const p = writeBatch();
            if (p) pending = pending ? Promise.all([pending, p]).then(() => undefined) : p;
          }
        }
        return pending;
      },
      flush: async () => {
        if (batch && filled > 0) await writeBatch();
        else if (batch) {
          pieceBuffers.give(batch);
          batch = undefined;
        }
      },
    };
  }

  /**
   * Writes `buffers` at `position` and reports them landed: inline while the page cache takes
   * writes at once (undefined, or a rejected promise when the write failed), else on the
   * threadpool (a promise).
   */
  private writeAndReport(buffers: Buffer[], position: number, length: number, prefix: WrittenPrefix | undefined): Promise<void> | undefined {
    if (inlineIo.inline) {
      try {
        inlineIo.writeAll(this.handle.fd, buffers, position);
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

  private async writeAll(buffers: Buffer[], position: number): Promise<void> {
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
