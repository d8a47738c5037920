import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Bytes gathered before one positioned write; a piece is never held whole. */
const WRITE_BATCH = 256 * 1024;

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
   * A writer of consecutive bytes starting at `position`; call `flush()` after the last `push`.
   * `push` returns a promise only when it writes (a batch is full), so gathering costs no tick.
   */
  writer(position: number): { push(chunk: Buffer): Promise<void> | undefined; flush(): Promise<void> } {
    let batch: Buffer[] = [];
    let batched = 0;
    let next = position;
    const flush = async (): Promise<void> => {
      if (batched === 0) return;
      const buffers = batch;
      const at = next;
      batch = [];
      next += batched;
      batched = 0;
      await this.writeAll(buffers, at);
    };
    return {
      push: (chunk) => {
        batch.push(chunk);
        batched += chunk.length;
        return batched >= WRITE_BATCH ? flush() : undefined;
      },
      flush,
    };
  }

  private async writeAll(buffers: Buffer[], position: number): Promise<void> {
    let rest = buffers;
    let at = position;
    while (rest.length > 0) {
      const { bytesWritten } = await this.handle.writev(rest, at);
      if (bytesWritten <= 0) throw Object.assign(new Error(`no bytes written to ${this.path}`), { code: 'EIO' });
      at += bytesWritten;
      rest = skip(rest, bytesWritten);
    }
  }
}

function skip(buffers: Buffer[], count: number): Buffer[] {
  let left = count;
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (left >= b.length) { left -= b.length; continue; }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
