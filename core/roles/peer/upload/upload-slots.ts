/**
 * At most `limit` piece uploads at once; later requests wait in arrival order. A piece sent at
 * the full uplink lands sooner than several sent side by side, and its child can pass it on
 * while this peer sends the next: a new piece spreads through a swarm as a tree, not as a star.
 */
export class UploadSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Uploads running now. */
  get running(): number {
    return this.active;
  }

  /** Resolves when a slot is free; call the returned function (once is enough) to free it. */
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    };
  }
}
