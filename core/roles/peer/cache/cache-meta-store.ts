import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What a peer keeps of a persistent-cache copy beside its pieces. Times are Unix milliseconds. */
export interface CacheMeta {
  taskId: string;
  name?: string;
  tag?: string;
  application?: string;
  contentLength: number;
  pieceLength: number;
  pieceCount: number;
  /** `sha256:<hex>` of the content. */
  digest: string;
  replicas: number;
  ttlMs: number;
  createdAt: number;
  /** A replica kept until the TTL (pinned); false for a copy an export left. */
  persistent: boolean;
}

/**
 * One small JSON file per persistent-cache copy in `<peer dir>/persistent-cache/`, written
 * atomically (temporary file, then rename) after the copy is whole, so a copy without one is an
 * unfinished import or fetch and is dropped at start. Read once at start, then kept in memory.
 */
export class CacheMetaStore {
  private readonly metas = new Map<string, CacheMeta>();

  constructor(readonly dir: string) {}

  async load(): Promise<CacheMeta[]> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      try {
        const meta = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as CacheMeta;
        if (typeof meta.taskId === 'string' && `${meta.taskId}.json` === name) this.metas.set(meta.taskId, meta);
      } catch {
        await rm(join(this.dir, name), { force: true });
      }
    }
    return this.list();
  }

  get(taskId: string): CacheMeta | undefined {
    return this.metas.get(taskId);
  }

  list(): CacheMeta[] {
    return [...this.metas.values()];
  }

  async put(meta: CacheMeta): Promise<void> {
    const file = join(this.dir, `${meta.taskId}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, file);
    this.metas.set(meta.taskId, meta);
  }

  async delete(taskId: string): Promise<void> {
    this.metas.delete(taskId);
    await rm(join(this.dir, `${taskId}.json`), { force: true });
  }
}

/** When the copy expires. */
export function expiresAt(meta: Pick<CacheMeta, 'createdAt' | 'ttlMs'>): number {
  return meta.createdAt + meta.ttlMs;
}
