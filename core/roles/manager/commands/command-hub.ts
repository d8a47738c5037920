/**
 * Wakes the held command waits of a scheduler when a command for it is created on this manager.
 * Waits are bounded by their own timeout; `close()` releases every one (manager stop). Managers
 * sharing a database still see each other's commands: a wait also re-reads the table every second.
 */
export class CommandHub {
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  /** Resolves when `schedulerId` is notified, after `ms`, or at close; never rejects. */
  wait(schedulerId: string, ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const set = this.waiters.get(schedulerId) ?? new Set();
      this.waiters.set(schedulerId, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(schedulerId) === set) this.waiters.delete(schedulerId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  notify(schedulerId: string): void {
    for (const done of [...this.waiters.get(schedulerId) ?? []]) done();
  }

  close(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const done of [...set]) done();
  }
}
