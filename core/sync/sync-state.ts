import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SourceEntry } from '../contracts/source-client.js';

/** What the sync state keeps of one copied object: enough to tell whether the source changed. */
export interface SyncRecord {
  /** Size in bytes. */
  s?: number;
  /** ETag, digest and last-modified time, each when the source listing gave it. */
  e?: string;
  d?: string;
  m?: string;
}

/** The state file of a src/dst pair: `<dataDir>/sync/<sha256(src, dst) prefix>.jsonl`. */
export function defaultStatePath(dataDir: string, src: string, dst: string): string {
  return join(dataDir, 'sync', `${createHash('sha256').update(`${src}\n${dst}`).digest('hex').slice(0, 32)}.jsonl`);
}

/** The record of a listing entry. */
export function recordOf(entry: SourceEntry): SyncRecord {
  return { s: entry.contentLength, e: entry.etag, d: entry.digest, m: entry.lastModified };
}

/** True when the entry is the object recorded: same size and same etag, digest and mtime where both sides have one (size alone when the source gives none of them). */
export function unchanged(entry: SourceEntry, rec: SyncRecord | undefined): boolean {
  if (!rec) return false;
  const now = recordOf(entry);
  if (now.s !== rec.s) return false;
  return (['e', 'd', 'm'] as const).every((k) => now[k] === undefined || rec[k] === undefined || now[k] === rec[k]);
}

/**
 * The sync state of one src/dst pair, a journal of JSON lines: one line per object copied
 * (`{"p":path,...record}`) or removed (`{"p":path,"x":1}`), appended as each one finishes, so a
 * run killed at any point resumes without copying again what it finished. A torn last line is
 * ignored. `compact` rewrites the journal as one line per object (atomically, by rename).
 */
export class SyncState {
  private handle?: FileHandle;

  private constructor(readonly path: string, readonly records: Map<string, SyncRecord>) {}

  static async open(path: string): Promise<SyncState> {
    const records = new Map<string, SyncRecord>();
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    for (const line of text.split('\n')) {
      if (!line) continue;
      let row: SyncRecord & { p?: unknown; x?: unknown };
      try {
        row = JSON.parse(line) as typeof row;
      } catch {
        continue;
      }
      if (typeof row.p !== 'string') continue;
      if (row.x) records.delete(row.p);
      else records.set(row.p, { s: row.s, e: row.e, d: row.d, m: row.m });
    }
    return new SyncState(path, records);
  }

  async copied(path: string, rec: SyncRecord): Promise<void> {
    this.records.set(path, rec);
    await this.append({ p: path, ...rec });
  }

  async removed(path: string): Promise<void> {
    this.records.delete(path);
    await this.append({ p: path, x: 1 });
  }

  /** Rewrites the journal with one line per object held, and closes it. */
  async compact(): Promise<void> {
    await this.close();
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const out = await open(tmp, 'w', 0o600);
    try {
      const lines = [...this.records].map(([p, r]) => JSON.stringify({ p, ...r }));
      await out.writeFile(lines.length ? `${lines.join('\n')}\n` : '');
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path);
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  private async append(row: object): Promise<void> {
    if (!this.handle) {
      await mkdir(dirname(this.path), { recursive: true });
      this.handle = await open(this.path, 'a', 0o600);
    }
    await this.handle.appendFile(`${JSON.stringify(row)}\n`);
  }
}
