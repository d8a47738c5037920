/** How long an upload may make no progress before it gives up its slot, then before it is cut. */
export interface StallLimits {
  /** No progress for this long: the send hands its upload slot to the next waiting child (it may go on if the child reads again). */
  slotReleaseMs: number;
  /** No progress for this long: the send is cut (its connection closes). */
  cutMs: number;
}

/**
 * Watches one piece send for progress (a chunk passed on to the reader). Time spent waiting on
 * the upload rate limit, or on the source (`sourceBehind`: nothing is ready for the reader), is
 * not a stall. Calls `release` once after `slotReleaseMs` without progress and `cut` once after
 * `cutMs`; stop() ends the watch.
 */
export class StalledSend {
  private last = Date.now();
  private throttled = false;
  private released = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limits: StallLimits,
    private readonly sourceBehind: () => boolean,
    private readonly release: () => void,
    private readonly cut: () => void,
  ) {
    const tick = Math.max(20, Math.min(limits.slotReleaseMs, limits.cutMs) / 4);
    this.timer = setInterval(() => this.check(), tick);
    this.timer.unref();
  }

  /** The reader took a chunk. */
  progress(): void {
    this.last = Date.now();
  }

  /** The send waits on the rate limit (true) or no longer does (false); neither counts as a stall. */
  throttle(on: boolean): void {
    this.throttled = on;
    this.last = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.throttled || this.sourceBehind()) {
      this.last = Date.now();
      return;
    }
    const idle = Date.now() - this.last;
    if (idle >= this.limits.cutMs) {
      this.stop();
      this.cut();
    } else if (idle >= this.limits.slotReleaseMs && !this.released) {
      this.released = true;
      this.release();
    }
  }
}
