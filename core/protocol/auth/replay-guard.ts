/**
 * Remembers the proofs a server has accepted while they are still inside the clock window, so a
 * proof copied off the wire cannot be presented a second time. Bounded: when more than `max`
 * proofs are remembered, the oldest half is forgotten and the window's start moves up past them,
 * so an old proof is then refused as too old rather than accepted again.
 */
export class ReplayGuard {
  /** Proof key → the proof's own time (ms). Insertion order is acceptance order. */
  private readonly seen = new Map<string, number>();
  /** Proofs dated at or before this are refused whatever the clock window says. */
  private floor = -Infinity;
  private sweptAt = 0;

  constructor(private readonly windowMs: number, private readonly max = 200_000) {}

  /**
   * Records a proof dated `at` (checked already); false when it was seen before or is older than
   * what the guard can still tell apart (`now` is the server's clock).
   */
  accept(key: string, at: number, now: number): boolean {
    if (at <= this.floor || this.seen.has(key)) return false;
    if (now - this.sweptAt > this.windowMs / 4) this.sweep(now);
    this.seen.set(key, at);
    if (this.seen.size > this.max) this.shed();
    return true;
  }

  /** How many proofs are remembered. */
  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, at] of this.seen) if (now - at > this.windowMs) this.seen.delete(key);
  }

  private shed(): void {
    let drop = Math.floor(this.seen.size / 2);
    for (const [key, at] of this.seen) {
      if (drop-- <= 0) break;
      if (at > this.floor) this.floor = at;
      this.seen.delete(key);
    }
  }
}
