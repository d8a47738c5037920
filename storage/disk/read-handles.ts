import { open, type FileHandle } from 'node:fs/promises';

/** How long an unused read handle stays open for the next read of the same file. */
const LINGER_MS = 1_000;

interface Entry {
  handle: Promise<FileHandle>;
  users: number;
  timer?: NodeJS.Timeout;
  /** No longer handed out (the file was removed, or the medium stops): closed when its last user is done. */
  retired: boolean;
}

/**
 * One read-only handle per file, shared by the reads of it that overlap or follow each other
 * closely (pieces served side by side, segments of a piece passed on as it arrives), instead of an
 * open and a close per read. Reads are positional, so sharing is safe; a handle is closed a second
 * after its last read, or when its last read ends once retired.
 */
export class SharedReadHandles {
  private readonly entries = new Map<string, Entry>();

  /** A handle on `path` and the function (idempotent) that gives it back. Rejects as `open` does. */
  async acquire(path: string): Promise<{ handle: FileHandle; release: () => void }> {
    let entry = this.entries.get(path);
    if (!entry) {
      const created: Entry = { handle: open(path, 'r'), users: 0, retired: false };
      entry = created;
      this.entries.set(path, created);
      created.handle.catch(() => { if (this.entries.get(path) === created) this.entries.delete(path); });
    }
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.users += 1;
    const e = entry;
    let handle: FileHandle;
    try {
      handle = await e.handle;
    } catch (err) {
      e.users -= 1;
      throw err;
    }
    let released = false;
    return {
      handle,
      release: () => {
        if (released) return;
        released = true;
        e.users -= 1;
        if (e.users > 0) return;
        if (e.retired) return void handle.close().catch(() => undefined);
        e.timer = setTimeout(() => this.close(path, e), LINGER_MS);
        e.timer.unref();
      },
    };
  }

  /** Stops handing out the handle of `path` (its file is going away); it closes once unused. */
  retire(path: string): void {
    const e = this.entries.get(path);
    if (!e) return;
    this.entries.delete(path);
    e.retired = true;
    if (e.users === 0) {
      clearTimeout(e.timer);
      void e.handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  /** Retires every handle. */
  retireAll(): void {
    for (const path of [...this.entries.keys()]) this.retire(path);
  }

  /** Open handles (for tests). */
  get size(): number {
    return this.entries.size;
  }

  private close(path: string, e: Entry): void {
    if (e.users > 0 || this.entries.get(path) !== e) return;
    this.entries.delete(path);
    void e.handle.then((h) => h.close()).catch(() => undefined);
  }
}
