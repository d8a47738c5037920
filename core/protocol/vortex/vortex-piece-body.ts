import type { Readable } from 'node:stream';
import type { PieceFeed } from '../../contracts/storage-medium.js';
import { pieceBuffers } from '../../task/buffer-pool.js';
import { pieceFeedStream } from '../../task/piece-feed-stream.js';

/** What a body asks of the exchange that fills it. */
export interface BodyControl {
  /** Stops reading the socket (and its read timeout) until `resume`. */
  pause(): void;
  resume(): void;
  /** Abandons the exchange: the connection is closed (with a D7Y_ABORTED error when none is given). */
  abort(err: Error | undefined): void;
}

type Consumer = (chunk: Buffer) => void | Promise<void>;

/**
 * The raw bytes of one piece as they come off a connection, as a PieceFeed. Socket reads (a few
 * KiB each on a slow link) are gathered into one pooled buffer and handed on in chunks of
 * FEED_CHUNK_BYTES, so that hashing and writing run once per chunk rather than once per read;
 * each chunk is valid during the consumer's call only. Bytes arriving before `pipe` (or while the
 * consumer's last promise is pending) are copied aside and the socket is paused.
 */
export class VortexPieceBody implements PieceFeed {
  readonly kind = 'piece-feed';
  private consumer: Consumer | undefined;
  private held: Buffer[] = [];
  private gather: Buffer | undefined;
  private gathered = 0;
  private waiting = false;
  private ended = false;
  private failure: Error | undefined;
  private settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  /** A read elsewhere (a native one) may still write into the gather buffer. */
  private lent = false;
  /** The gather buffer, released while lent: given back to the pool once the read returns it. */
  private releasedWhileLent: Buffer | undefined;

  constructor(private readonly control: BodyControl) {}

  /** From the exchange: the next bytes of the body (valid only during the call). */
  deliver(chunk: Buffer): void {
    if (this.failure) return;
    if (!this.consumer || this.waiting || this.held.length > 0) {
      this.held.push(copyAside(chunk));
      this.control.pause();
      return;
    }
    const rest = this.take(chunk);
    if (rest) this.held.push(copyAside(rest));
  }

  /**
   * A view of the gather buffer that the next socket read may fill, at most `max` bytes; undefined
   * while bytes cannot land there (no consumer yet, the consumer busy, bytes held aside).
   */
  directTarget(max: number): Buffer | undefined {
    if (!this.consumer || this.waiting || this.held.length > 0 || this.failure || this.ended || max <= 0) return undefined;
    const g = (this.gather ??= pieceBuffers.take());
    return g.subarray(this.gathered, this.gathered + Math.min(g.length - this.gathered, max));
  }

  /** From the exchange: a read put `bytes` bytes of the body into the view `directTarget` gave last. */
  landed(bytes: number): void {
    if (this.failure) return;
    const g = this.gather as Buffer;
    this.gathered += bytes;
    if (this.gathered === g.length) {
      this.gathered = 0;
      this.feed(g);
    }
  }

  /** From the exchange: every byte of the body has been delivered. */
  end(): void {
    this.ended = true;
    if (!this.consumer || this.waiting || this.held.length > 0 || this.failure) return;
    this.flushGathered();
    this.maybeDone();
  }

  /** From the exchange: the transfer failed. */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const h of this.held) pieceBuffers.give(h);
    this.held = [];
    this.releaseGather();
    const settle = this.settle;
    this.settle = undefined;
    settle?.reject(err);
  }

  pipe(onChunk: Consumer): Promise<void> {
    if (this.consumer) return Promise.reject(new Error('a Vortex piece body can be piped only once'));
    this.consumer = onChunk;
    return new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.settle = { resolve, reject };
      this.drainHeld();
    });
  }

  destroy(err?: Error): void {
    this.control.abort(err);
    this.fail(err ?? new Error('piece body destroyed'));
  }

  /** A byte stream of the body for consumers of streams (each chunk copied). */
  toReadable(): Readable {
    return pieceFeedStream(this);
  }

  /**
   * Copies `chunk` into the gather buffer, feeding it whenever it fills; returns what is left of
   * the chunk when the consumer made the body wait (the caller holds it, in order).
   */
  private take(chunk: Buffer): Buffer | undefined {
    for (let off = 0; off < chunk.length;) {
      if (this.failure) return undefined;
      if (this.waiting) return chunk.subarray(off);
      const g = (this.gather ??= pieceBuffers.take());
      const n = chunk.copy(g, this.gathered, off);
      this.gathered += n;
      off += n;
      if (this.gathered === g.length) {
        this.gathered = 0;
        this.feed(g);
      }
    }
    return undefined;
  }

  /** Feeds the last, partial chunk of the body and gives the gather buffer back. */
  private flushGathered(): void {
    const g = this.gather;
    if (!g) return;
    const n = this.gathered;
    this.gathered = 0;
    if (n > 0) this.feed(g.subarray(0, n));
    this.releaseGather();
  }

  /** A read that writes into the view `directTarget` gave runs until `gatherReturned`. */
  lendGather(): void {
    this.lent = true;
  }

  /** The read lent the gather buffer is over; a buffer released meanwhile goes back to the pool now. */
  gatherReturned(): void {
    this.lent = false;
    const g = this.releasedWhileLent;
    this.releasedWhileLent = undefined;
    if (g) pieceBuffers.give(g);
  }

  private releaseGather(): void {
    const g = this.gather;
    this.gather = undefined;
    this.gathered = 0;
    if (!g) return;
    if (this.lent) this.releasedWhileLent = g;
    else pieceBuffers.give(g);
  }

  private feed(chunk: Buffer): void {
    let result: void | Promise<void>;
    try {
      result = (this.consumer as Consumer)(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (result) this.wait(result);
  }

  private wait(p: Promise<void>): void {
    this.waiting = true;
    this.control.pause();
    p.then(() => {
      this.waiting = false;
      this.drainHeld();
    }, (err: Error) => this.destroy(err));
  }

  /** Hands over the bytes held aside, then lets the socket flow again (or finishes). */
  private drainHeld(): void {
    while (!this.failure && !this.waiting && this.held.length > 0) {
      const h = this.held.shift() as Buffer;
      const rest = this.take(h);
      if (rest) this.held.unshift(rest);
      else pieceBuffers.give(h);
    }
    if (this.failure || this.waiting) return;
    if (!this.ended) {
      this.control.resume();
      return;
    }
    this.flushGathered();
    this.maybeDone();
  }

  private maybeDone(): void {
    if (!this.ended || this.failure || this.waiting || this.held.length > 0 || !this.settle) return;
    const settle = this.settle;
    this.settle = undefined;
    settle.resolve();
  }
}

/**
 * A copy of `chunk` to hold while the consumer is busy: in a pooled buffer (a view of it, given
 * back once consumed) when it fits one, so that holding allocates nothing.
 */
function copyAside(chunk: Buffer): Buffer {
  if (chunk.length > pieceBuffers.size) return Buffer.from(chunk);
  const b = pieceBuffers.take();
  chunk.copy(b);
  return b.subarray(0, chunk.length);
}
