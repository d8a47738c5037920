import { randomUUID } from 'node:crypto';
import { D7yError } from '../../../errors/d7y-error.js';
import type { TenantTable } from '../database/schema.js';
import type { ManagerDb } from '../database/manager-database.js';

/** The tenant of that name; created (race-safe) when `create` is set, D7Y_NOT_FOUND otherwise. */
export async function tenantByName(db: ManagerDb, name: string, create: boolean): Promise<TenantTable> {
  const found = await db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirst();
  if (found) return found;
  if (!create) throw new D7yError('D7Y_NOT_FOUND', `tenant "${name}" does not exist`, { fix: 'create a user in it first' });
  try {
    await db.insertInto('tenants').values({ id: randomUUID(), name, created_at: Date.now() }).execute();
  } catch {
    /* created by a concurrent call or another manager */
  }
  return db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
}
