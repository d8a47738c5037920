import { FEED_CHUNK_BYTES } from '../contracts/storage-medium.js';

/**
 * Equal-sized buffers handed out and taken back, so that moving piece bytes allocates no memory
 * per chunk. A buffer is reused only after it was given back, once; a pool keeps at most
 * `maxFree` idle buffers and lets the rest be collected.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly idle = new WeakSet<ArrayBufferLike>();
  private allocated = 0;

  constructor(readonly size: number, private readonly maxFree: number) {}

  take(): Buffer {
    const b = this.free.pop();
    if (!b) {
      this.allocated += 1;
      return Buffer.allocUnsafeSlow(this.size);
    }
    this.idle.delete(b.buffer);
    return b;
  }

  /**
   * Takes back a buffer from `take` (or a view of one); anything else, and a buffer already given
   * back, is ignored. The caller must hold no view of it any more.
   */
  give(chunk: Buffer): void {
    const ab = chunk.buffer;
    if (ab.byteLength !== this.size || this.idle.has(ab) || this.free.length >= this.maxFree) return;
    this.idle.add(ab);
    this.free.push(Buffer.from(ab, 0, this.size));
  }

  /** Buffers allocated so far (a take that found none idle). */
  get made(): number {
    return this.allocated;
  }

  /** Idle buffers right now. */
  get idleCount(): number {
    return this.free.length;
  }
}

/**
 * The pool that Vortex piece bodies gather socket reads into and storage media read and write
 * pieces through: 256 KiB buffers, at most 8 MiB idle.
 * A write batch lands (and a child relaying the piece can read it) only when full, and a piece is
 * sent in several chunks so that an upload whose reader stops is seen as stalled while chunks wait:
 * 1 MiB buffers cost the peer daemons of an 8-host swarm 12 % less CPU per GiB (each write is a
 * hand-off to libuv's threads), but a 1 MiB piece was then relayed only once whole and sent in one
 * chunk the upload watch could not see stall.
 */
export const pieceBuffers = new BufferPool(FEED_CHUNK_BYTES, 32);
