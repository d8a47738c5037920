import type { Readable } from 'node:stream';
import type { PieceFeed } from '../../contracts/storage-medium.js';
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
 * The raw bytes of one piece as they come off a connection, as a PieceFeed: each chunk is a view
 * of the connection's read buffer, handed straight to the consumer. Bytes arriving before `pipe`
 * (or while the consumer's last promise is pending) are copied aside and the socket is paused.
 */
export class VortexPieceBody implements PieceFeed {
  readonly kind = 'piece-feed';
  private consumer: Consumer | undefined;
  private held: Buffer[] = [];
  private waiting = false;
  private ended = false;
  private failure: Error | undefined;
  private settle: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(private readonly control: BodyControl) {}

  /** From the exchange: the next bytes of the body (valid only during the call). */
  deliver(chunk: Buffer): void {
    if (this.failure) return;
    if (!this.consumer || this.waiting || this.held.length > 0) {
      this.held.push(Buffer.from(chunk));
      this.control.pause();
      return;
    }
    this.feed(chunk);
  }

  /** From the exchange: every byte of the body has been delivered. */
  end(): void {
    this.ended = true;
    this.maybeDone();
  }

  /** From the exchange: the transfer failed. */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.held = [];
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
    while (!this.failure && !this.waiting && this.held.length > 0) this.feed(this.held.shift() as Buffer);
    if (this.failure || this.waiting) return;
    if (this.ended) this.maybeDone();
    else this.control.resume();
  }

  private maybeDone(): void {
    if (!this.ended || this.failure || this.waiting || this.held.length > 0 || !this.settle) return;
    const settle = this.settle;
    this.settle = undefined;
    settle.resolve();
  }
}
