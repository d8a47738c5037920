import { randomBytes } from 'node:crypto';
import { link, open, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { D7yError } from '../../../errors/d7y-error.js';

const LOCK_FILE = 'peer.lock';
/** How long a lock file that holds no owner is taken for one being written. */
const UNREADABLE_MS = 1_000;

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

  /**
   * Takes the lock, or throws D7Y_CONFLICT naming the process that holds it. The lock file appears
   * whole: written aside, then hard-linked into place (a link fails when the name exists). A lock
   * file that cannot be read yet is one another process is still writing (where links are not
   * supported it is created, then written): it is read again for up to UNREADABLE_MS before it
   * counts as left behind.
   */
  async acquire(): Promise<void> {
    const me: LockOwner = { pid: process.pid, command: commandLine() };
    const aside = `${this.file}.${process.pid}-${randomBytes(4).toString('hex')}`;
    await writeFile(aside, JSON.stringify(me), { mode: 0o644, flag: 'wx' });
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        if (await this.create(aside, me)) {
          this.held = true;
          return;
        }
        const owner = await this.settledOwner();
        if (owner && alive(owner.pid)) {
          throw new D7yError('D7Y_CONFLICT', `the peer folder ${this.dir} is in use by process ${owner.pid} (${owner.command})`, {
            fix: owner.pid === process.pid
              ? 'run one peer per folder: give each peer its own peer.dataDir'
              : 'use that process (a running daemon serves `d7y get` over its socket), wait for it to end, or give this one another --data-dir',
          });
        }
        await rm(this.file, { force: true });
      }
    } finally {
      await rm(aside, { force: true });
    }
    throw new D7yError('D7Y_CONFLICT', `could not take the lock ${this.file}`, { fix: 'remove the file if no d7y process uses that folder' });
  }

  /** Puts the lock file in place; false when one exists. */
  private async create(aside: string, me: LockOwner): Promise<boolean> {
    try {
      await link(aside, this.file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    }
    // A file system without hard links: create, then write.
    try {
      const fh = await open(this.file, 'wx', 0o644);
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    }
  }

  /** The holder named in the lock file, waiting while it cannot be read; undefined when it never can (or is gone). */
  private async settledOwner(): Promise<LockOwner | undefined> {
    for (const until = Date.now() + UNREADABLE_MS; ;) {
      const owner = await this.owner();
      if (owner !== 'unreadable') return owner;
      if (Date.now() >= until) return undefined;
      await delay(25);
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await rm(this.file, { force: true });
  }

  /** The holder named in the lock file; undefined when there is no file, 'unreadable' when it holds no owner. */
  private async owner(): Promise<LockOwner | undefined | 'unreadable'> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const o = JSON.parse(text) as Partial<LockOwner>;
      return typeof o.pid === 'number' ? { pid: o.pid, command: String(o.command ?? 'd7y') } : 'unreadable';
    } catch {
      return 'unreadable';
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
