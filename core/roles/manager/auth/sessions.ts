import { randomUUID } from 'node:crypto';
import type { ManagerDb } from '../database/manager-database.js';
import type { SessionSigner } from './credentials.js';

/** Starts a console session of `userId` for `ttlMs`: its row, and the signed token that names it. */
export async function openSession(db: ManagerDb, signer: SessionSigner, userId: string, ttlMs: number, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
  const id = randomUUID();
  const expiresAt = now + ttlMs;
  await db.insertInto('sessions').values({ id, user_id: userId, created_at: now, expires_at: expiresAt }).execute();
  return { token: signer.sign({ sub: userId, sid: id, exp: expiresAt }), expiresAt };
}

/** Ends every session of `userId` but `keep` (if given); returns how many ended. */
export async function endSessions(db: ManagerDb, userId: string, keep?: string): Promise<number> {
  let q = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (keep) q = q.where('id', '!=', keep);
  const r = await q.executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Deletes the rows of sessions past their expiry. */
export async function pruneSessions(db: ManagerDb, now = Date.now()): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
}
