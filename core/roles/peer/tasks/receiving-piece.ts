import { FEED_CHUNK_BYTES, type PieceFeed } from '../../../contracts/storage-medium.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import { pieceBuffers } from '../../../task/buffer-pool.js';

/**
 * The latest received bytes of a piece kept in memory while relays pass it on: a relay right
 * behind the transfer sends them from there instead of reading them back from the medium. Older
 * bytes (a relay that fell further behind) come from the medium.
 */
export const RELAY_KEEP_BYTES = 4 * FEED_CHUNK_BYTES;

/**
 * A piece this peer is receiving from a parent, as far as it can already be passed on: the
 * leading bytes the medium has written (`written`), and how the transfer ended. Children may
 * stream those bytes before the piece is whole (cut-through relay); they check the digest the
 * parent announced, so a piece that turns out bad fails for them as it does here.
 */
export class ReceivingPiece {
  written = 0;
  private ended?: { ok: true } | { ok: false; err: D7yError };
  private waiters: (() => void)[] = [];
  private relays = 0;
  /** Copies of the latest received bytes (by offset in the piece) in pooled buffers, kept while relays read. */
  private kept: Kept[] = [];
  private keptBytes = 0;

  constructor(
    readonly number: number,
    readonly offset: number,
    readonly length: number,
    /** The digest the parent announced for the piece. */
    readonly digest: string,
    /** Called when the first bytes are written: the piece can be passed on from then. */
    private readonly onFirstBytes?: (r: ReceivingPiece) => void,
  ) {}

  /** Records that the first `bytes` bytes are written; wakes readers waiting for more. */
  advance(bytes: number): void {
    if (this.ended || bytes <= this.written) return;
    const first = this.written === 0;
    this.written = Math.min(bytes, this.length);
    if (first) this.onFirstBytes?.(this);
    this.wake();
  }

  /** The piece is held now (verified and recorded). */
  finish(): void {
    if (this.ended) return;
    this.ended = { ok: true };
    this.wake();
  }

  /** The transfer failed: readers of the unfinished piece fail too. */
  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = { ok: false, err: toD7yError(err, 'D7Y_PEER_UNAVAILABLE') };
    this.dropKept();
    this.wake();
  }

  /**
   * A relay starts passing the piece on: from now on the bytes received are kept (the latest
   * RELAY_KEEP_BYTES) until the last relay calls the returned function.
   */
  attachRelay(): () => void {
    this.relays += 1;
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      this.relays -= 1;
      if (this.relays === 0) this.dropKept();
    };
  }

  /**
   * From the transfer: the piece's bytes from `start` (valid during the call only), kept while a
   * relay reads the piece: the feed's own pooled buffer when `adopt` hands it over, else a copy.
   */
  received(start: number, chunk: Buffer, adopt?: () => Buffer | undefined): void {
    if (this.relays === 0 || this.ended || chunk.length === 0 || chunk.length > pieceBuffers.size) return;
    let buffer = adopt?.();
    if (!buffer) {
      buffer = pieceBuffers.take();
      chunk.copy(buffer);
    }
    this.kept.push(new Kept(start, buffer, chunk.length));
    this.keptBytes += chunk.length;
    while (this.keptBytes > RELAY_KEEP_BYTES && this.kept.length > 1) {
      const old = this.kept.shift() as Kept;
      this.keptBytes -= old.length;
      old.unref();
    }
  }

  /**
   * The bytes from `at` up to `until` (at most to the end of one kept buffer) when they are kept
   * in memory and written, else undefined (read them from the medium). The caller calls `release`
   * once nothing holds the view any more (a socket write of it is done), or never: the buffer then
   * goes to the garbage collector instead of back to the pool.
   */
  keptAt(at: number, until: number): { bytes: Buffer; release: () => void } | undefined {
    const limit = Math.min(until, this.done ? this.length : this.written);
    for (const k of this.kept) {
      if (at < k.start || at >= k.start + k.length) continue;
      const stop = Math.min(k.start + k.length, limit);
      return stop > at ? k.lend(at - k.start, stop - k.start) : undefined;
    }
    return undefined;
  }

  /** Where the first kept bytes after `at` start (the medium need be read only up to there), else undefined. */
  keptAfter(at: number): number | undefined {
    for (const k of this.kept) if (k.start > at) return k.start;
    return undefined;
  }

  private dropKept(): void {
    for (const k of this.kept) k.unref();
    this.kept = [];
    this.keptBytes = 0;
  }

  get done(): boolean {
    return this.ended?.ok === true;
  }

  /** The failure, when the transfer failed. */
  get error(): D7yError | undefined {
    return this.ended && !this.ended.ok ? this.ended.err : undefined;
  }

  /**
   * Resolves once more than `seen` bytes are written or the transfer ended; rejects when
   * `signal` aborts first.
   */
  more(seen: number, signal?: AbortSignal): Promise<void> {
    if (this.written > seen || this.ended) return Promise.resolve();
    const aborted = (): D7yError => (signal?.reason instanceof D7yError ? signal.reason
      : new D7yError('D7Y_ABORTED', `passing on piece ${this.number} was aborted`));
    if (signal?.aborted) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        reject(aborted());
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Received bytes in a pooled buffer, back to the pool once neither the piece nor a lent view holds it. */
class Kept {
  private refs = 1;

  constructor(readonly start: number, private readonly buffer: Buffer, readonly length: number) {}

  lend(from: number, to: number): { bytes: Buffer; release: () => void } {
    this.refs += 1;
    let released = false;
    return {
      bytes: this.buffer.subarray(from, to),
      release: () => {
        if (released) return;
        released = true;
        this.unref();
      },
    };
  }

  unref(): void {
    this.refs -= 1;
    if (this.refs === 0) pieceBuffers.give(this.buffer);
  }
}

/**
 * `feed` with each chunk also given to `r.received` (at its offset in the piece, with the feed's
 * buffer when it can hand it over) before its consumer sees it.
 */
export function keptForRelays(feed: PieceFeed, r: ReceivingPiece): PieceFeed {
  let at = 0;
  const adopt = feed.adopt ? (): Buffer | undefined => feed.adopt!() : undefined;
  return {
    kind: 'piece-feed',
    pipe: (onChunk) => feed.pipe((chunk) => {
      r.received(at, chunk, adopt);
      at += chunk.length;
      return onChunk(chunk);
    }),
    destroy: (err) => feed.destroy(err),
  };
}
