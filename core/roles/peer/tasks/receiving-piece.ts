import { D7yError, toD7yError } from '../../../errors/d7y-error.js';

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
    this.wake();
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
