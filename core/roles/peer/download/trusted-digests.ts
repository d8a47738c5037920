import type { PieceDigest } from '../../../protocol/rpc/gen/scheduler.js';
import { isContentDigest } from '../../../task/content-hash.js';

/** Pieces of one download whose trusted digests are remembered, at most (a bigger task is refused by the scheduler anyway). */
const MAX_DIGESTS = 1_000_000;

/**
 * The trusted digests of one download's pieces, as its scheduler sent them (from the peer that
 * read the origin), never from a parent. A piece whose bytes arrive before its digest waits for it.
 * Kept across scheduler failovers. The first digest of a piece stays.
 */
export class TrustedDigests {
  private readonly digests = new Map<number, string>();
  private readonly waiters = new Map<number, Set<(digest: string) => void>>();

  /** Records digests the scheduler sent; ignores anything but `blake3:`/`sha256:` digests. */
  add(pieces: readonly PieceDigest[]): void {
    for (const { number, digest } of pieces) {
      if (!isContentDigest(digest) || this.digests.has(number) || this.digests.size >= MAX_DIGESTS) continue;
      this.digests.set(number, digest);
      const waiting = this.waiters.get(number);
      this.waiters.delete(number);
      for (const wake of waiting ?? []) wake(digest);
    }
  }

  get(n: number): string | undefined {
    return this.digests.get(n);
  }

  get size(): number {
    return this.digests.size;
  }

  /** The digest of piece `n`, once known; undefined when `timeoutMs` passes first. Rejects when `signal` aborts. */
  wait(n: number, timeoutMs: number, signal: AbortSignal): Promise<string | undefined> {
    const known = this.digests.get(n);
    if (known) return Promise.resolve(known);
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(n) ?? new Set();
      this.waiters.set(n, set);
      const done = (digest: string | undefined): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(n) === set) this.waiters.delete(n);
        resolve(digest);
      };
      const wake = (digest: string): void => done(digest);
      const onAbort = (): void => {
        done(undefined);
        reject(signal.reason as Error);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      set.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
