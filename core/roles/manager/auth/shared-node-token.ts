import { randomUUID } from 'node:crypto';
import { managerToken } from '../../../config/manager-link-config.js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { ManagerDb } from '../database/manager-database.js';
import { hashAccessToken } from './credentials.js';

export interface SharedNodeTokenOptions {
  /** `manager.nodeTokenFile`: one line, `d7y_` and at least 32 more characters. */
  file: string;
  db: ManagerDb;
  /** Lifetime given to the token (the manager's `auth.maxTokenTtl`), ms; renewed at each start. */
  ttlMs: number;
  logger: Logger;
}

/**
 * Makes the token held in `file` a personal access token of the root user (scopes `cluster` and
 * `job`), so the schedulers and peers of a deployed cluster, given the same file as their
 * `manager.tokenFile`, reach the manager with no token created by hand. Its expiry is pushed back
 * at each start. A token a person deactivated is left as it is (and said so); replicas sharing
 * a database may run this at once.
 */
export async function ensureSharedNodeToken(o: SharedNodeTokenOptions): Promise<'created' | 'renewed' | 'deactivated'> {
  const token = (await managerToken({ tokenFile: o.file }))!;
  if (!/^d7y_[A-Za-z0-9_-]{32,}$/.test(token)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the node token in ${o.file} is not a d7y token (d7y_ followed by at least 32 letters, digits, - or _)`, {
      fix: `write one with: echo "d7y_$(openssl rand -hex 32)" > ${o.file}`,
    });
  }
  const hash = hashAccessToken(token);
  const now = Date.now();
  const existing = () => o.db.selectFrom('personal_access_tokens').select(['id', 'state']).where('token_hash', '=', hash).executeTakeFirst();
  let row = await existing();
  if (!row) {
    const root = await o.db.selectFrom('users').select(['id', 'tenant_id']).where('name', '=', 'root').where('role', '=', 'root').executeTakeFirst();
    if (!root) throw new D7yError('D7Y_INTERNAL', 'the manager has no root user to own the node token', { fix: 'report this as a bug' });
    try {
      await o.db.insertInto('personal_access_tokens').values({
        id: randomUUID(), tenant_id: root.tenant_id, user_id: root.id, name: `cluster nodes (${o.file})`, token_hash: hash,
        token_prefix: token.slice(0, 10), scopes: 'cluster,job', state: 'active', expires_at: now + o.ttlMs, created_at: now, last_used_at: null,
      }).execute();
      o.logger.info({ file: o.file }, 'node token from manager.nodeTokenFile recorded');
      return 'created';
    } catch (err) {
      row = await existing();
      if (!row) throw err;
    }
  }
  if (row.state !== 'active') {
    o.logger.warn({ file: o.file, tokenId: row.id }, 'the node token of manager.nodeTokenFile is deactivated on the manager; schedulers and peers using it are refused');
    return 'deactivated';
  }
  await o.db.updateTable('personal_access_tokens').set({ expires_at: now + o.ttlMs }).where('id', '=', row.id).execute();
  return 'renewed';
}
