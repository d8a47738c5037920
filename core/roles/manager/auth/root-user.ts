import { randomUUID } from 'node:crypto';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { tenantByName } from '../api/tenants.js';
import type { ManagerDb } from '../database/manager-database.js';
import { hashPassword, newPassword, verifyPassword } from './credentials.js';
import { endSessions } from './sessions.js';

/** The tenant the root user and first-start data belong to. */
export const DEFAULT_TENANT = 'default';

/** Sets a user's password (hashed) and ends all of their sessions; D7Y_NOT_FOUND when there is no such user. */
export async function setUserPassword(db: ManagerDb, name: string, password: string): Promise<{ sessionsEnded: number }> {
  const user = await db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst();
  if (!user) throw new D7yError('D7Y_NOT_FOUND', `the manager has no user "${name}"`, { fix: 'check the user name (root always exists)' });
  await db.updateTable('users').set({ password_hash: await hashPassword(password) }).where('id', '=', user.id).execute();
  return { sessionsEnded: await endSessions(db, user.id) };
}

/**
 * Makes sure the root user exists and, when `configured` (manager.rootPassword) is given, that its
 * password is that one: on every start, a configured password that differs from the stored one
 * replaces it (and ends root's sessions). Returns the password generated for a new root user when
 * none is configured, for the caller to show once; never logs a password.
 */
export async function ensureRootUser(db: ManagerDb, configured: string | undefined, logger: Logger): Promise<{ generated?: string }> {
  const root = await db.selectFrom('users').select(['id', 'password_hash']).where('name', '=', 'root').executeTakeFirst();
  if (root) {
    if (configured && !(await verifyPassword(configured, root.password_hash))) {
      const { sessionsEnded } = await setUserPassword(db, 'root', configured);
      logger.info({ user: 'root', sessionsEnded }, 'root password set to manager.rootPassword from the config');
    }
    return {};
  }
  const tenant = await tenantByName(db, DEFAULT_TENANT, true);
  const password = configured ?? newPassword();
  try {
    await db.insertInto('users').values({
      id: randomUUID(), tenant_id: tenant.id, name: 'root', password_hash: await hashPassword(password), role: 'root', created_at: Date.now(),
    }).execute();
  } catch {
    return {};
  }
  logger.info({ user: 'root', tenant: DEFAULT_TENANT }, 'root user created');
  return configured ? {} : { generated: password };
}
