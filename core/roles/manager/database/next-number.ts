import { randomInt } from 'node:crypto';
import type { ManagerDb } from './manager-database.js';

const ATTEMPTS = 20;

/** True for a unique-constraint violation on a `number` column (SQLite or PostgreSQL). */
function isNumberTaken(err: unknown): boolean {
  const e = err as { constraint?: string; message?: string };
  return /_number$/.test(e.constraint ?? '') || /UNIQUE constraint failed: \w+\.number\b/.test(e.message ?? '');
}

/**
 * Runs `insert` with the next free `number` of `table` (one more than the largest); when another
 * insert took that number meanwhile (a burst, or another manager on the same database), runs it
 * again with a later one, a little further apart each time so a burst spreads out (numbers may
 * then leave gaps), 20 times at most. `insert` must insert its row in one statement or one transaction.
 */
export async function withNextNumber<T>(db: ManagerDb, table: 'jobs' | 'scheduler_clusters', insert: (number: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.max('number').as('n')).executeTakeFirst();
    try {
      return await insert(Number(row?.n ?? 0) + 1 + (attempt > 1 ? randomInt(attempt * 2) : 0));
    } catch (err) {
      if (attempt >= ATTEMPTS || !isNumberTaken(err)) throw err;
    }
  }
}
