import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { D7yError } from '../../../errors/d7y-error.js';

const LOCK_FILE = 'peer.lock';

/** Who holds a peer's folder. */
interface LockOwner {
  pid: number;
  command: string;
}

/**
 * Keeps one process at a time in a peer's folder: two peers writing one storage would corrupt it.
 * The lock is a file naming the holder's pid; a lock left by a process that is gone is taken over.
 */
export class DataDirLock {
  private held = false;

  constructor(private readonly dir: string) {}

  private get file(): string {
    return join(this.dir, LOCK_FILE);
  }

  /** Takes the lock, or throws D7Y_CONFLICT naming the process that holds it. */
  async acquire(): Promise<void> {
    const me: LockOwner = { pid: process.pid, command: commandLine() };
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const fh = await open(this.file, 'wx', 0o644);
        await fh.writeFile(JSON.stringify(me));
        await fh.close();
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = await this.owner();
      if (owner && alive(owner.pid)) {
        throw new D7yError('D7Y_CONFLICT', `the peer folder ${this.dir} is in use by process ${owner.pid} (${owner.command})`, {
          fix: owner.pid === process.pid
            ? 'run one peer per folder: give each peer its own peer.dataDir'
            : 'use that process (a running daemon serves `d7y get` over its socket), wait for it to end, or give this one another --data-dir',
        });
      }
      await rm(this.file, { force: true });
    }
    throw new D7yError('D7Y_CONFLICT', `could not take the lock ${this.file}`, { fix: 'remove the file if no d7y process uses that folder' });
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await rm(this.file, { force: true });
  }

  private async owner(): Promise<LockOwner | undefined> {
    try {
      const o = JSON.parse(await readFile(this.file, 'utf8')) as Partial<LockOwner>;
      return typeof o.pid === 'number' ? { pid: o.pid, command: String(o.command ?? 'd7y') } : undefined;
    } catch {
      return undefined;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLine(): string {
  const args = process.argv.slice(2, 4).join(' ');
  return args ? `d7y ${args}` : 'd7y';
}
