import type { NodeConfig } from '../core/config/node-config.js';

/**
 * Sets a user's password straight in the manager database of a node config (SQLite in the data
 * dir, or manager.database.url), without a running manager, and ends that user's sessions.
 */
export async function resetManagerUserPassword(config: NodeConfig, user: string, password: string): Promise<{ sessionsEnded: number }> {
  const { openManagerDatabase } = await import('../core/roles/manager/database/manager-database.js');
  const { setUserPassword } = await import('../core/roles/manager/auth/root-user.js');
  const m = config.manager;
  const db = await openManagerDatabase({ url: m.database.url, file: m.database.file, dataDir: config.dataDir, poolSize: 1 });
  try {
    return await setUserPassword(db, user, password);
  } finally {
    await db.destroy();
  }
}
