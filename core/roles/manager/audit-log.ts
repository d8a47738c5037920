import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logging/logger.js';
import type { ManagerDb } from './database/manager-database.js';
import type { AuditTable } from './database/schema.js';

export type AuditEntry = Omit<AuditTable, 'id' | 'created_at' | 'success' | 'detail'> & {
  /** Route pattern, client address, error code: never a body, header, query string or token. */
  detail: { route?: string; ip?: string; error?: string };
};

const MAX_PENDING = 10_000;

/**
 * Writes one audit row per API call without delaying the answer. Writes in flight are bounded;
 * beyond the bound a row is dropped and counted (never the request). `flush()` waits for them.
 */
export class AuditLog {
  private readonly pending = new Set<Promise<void>>();
  private dropped = 0;

  constructor(private readonly db: ManagerDb, private readonly logger: Logger) {}

  record(entry: AuditEntry, now = Date.now()): void {
    if (this.pending.size >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    const row: AuditTable = {
      ...entry, id: randomUUID(), success: entry.status < 400 ? 1 : 0, detail: JSON.stringify(entry.detail), created_at: now,
    };
    const p = this.db.insertInto('audits').values(row).execute()
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'audit record not written'))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  get droppedCount(): number {
    return this.dropped;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** Deletes rows older than `retentionMs`; returns how many. */
  async prune(retentionMs: number, now = Date.now()): Promise<number> {
    const r = await this.db.deleteFrom('audits').where('created_at', '<', now - retentionMs).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
