import { randomBytes } from 'node:crypto';
import type { ManagerDb } from '../database/manager-database.js';

const KEY = 'session_secret';

function fresh(): string {
  return randomBytes(32).toString('base64');
}

/**
 * The secret that signs console session tokens, shared by every manager on the database (the
 * `settings` row `session_secret`), created on first use. The SQLite file holding it is mode 0600.
 */
export async function loadSessionSecret(db: ManagerDb): Promise<Buffer> {
  const read = () => db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirst();
  let row = await read();
  if (!row) {
    await db.insertInto('settings').values({ key: KEY, value: fresh() }).execute().catch(() => undefined);
    row = await read();
  }
  return Buffer.from(row!.value, 'base64');
}

/**
 * Replaces the session signing secret and ends every console session, in one transaction: every
 * session token issued before is refused from then on (its user signs in again). Running managers
 * sign with the new secret once they reload it (manager.auth.secretReloadInterval). Returns how many
 * sessions ended.
 */
export async function rotateSessionSecret(db: ManagerDb): Promise<{ sessionsEnded: number }> {
  return db.transaction().execute(async (tx) => {
    const value = fresh();
    const updated = await tx.updateTable('settings').set({ value }).where('key', '=', KEY).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) await tx.insertInto('settings').values({ key: KEY, value }).execute();
    const ended = await tx.deleteFrom('sessions').executeTakeFirst();
    return { sessionsEnded: Number(ended.numDeletedRows) };
  });
}
