import type { NodeConfig } from '../core/config/node-config.js';
type ManagerDatabase = Awaited<ReturnType<typeof import('../core/roles/manager/database/manager-database.js').openManagerDatabase>>;

/** Runs `fn` on the manager database of a node config (SQLite in the data dir, or manager.database.url), without a running manager. */
async function withManagerDatabase<T>(config: NodeConfig, fn: (db: ManagerDatabase) => Promise<T>): Promise<T> {
  const { openManagerDatabase } = await import('../core/roles/manager/database/manager-database.js');
  const m = config.manager;
  const db = await openManagerDatabase({ url: m.database.url, file: m.database.file, dataDir: config.dataDir, poolSize: 1 });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/** Sets a user's password straight in the manager database and ends that user's sessions. */
export async function resetManagerUserPassword(config: NodeConfig, user: string, password: string): Promise<{ sessionsEnded: number }> {
  const { setUserPassword } = await import('../core/roles/manager/auth/root-user.js');
  return withManagerDatabase(config, (db) => setUserPassword(db, user, password));
}

/** Replaces the session signing secret in the manager database and ends every console session. */
export async function rotateManagerSessionSecret(config: NodeConfig): Promise<{ sessionsEnded: number }> {
  const { rotateSessionSecret } = await import('../core/roles/manager/auth/session-secret.js');
  return withManagerDatabase(config, (db) => rotateSessionSecret(db));
}
