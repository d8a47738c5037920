import { randomUUID } from 'node:crypto';
import type { ManagerDb } from '../database/manager-database.js';
import type { CommandTable } from '../database/schema.js';
import type { CommandHub } from './command-hub.js';
import type { CommandType } from './command-schemas.js';

/** A command for each of `ids` (schedulers, or peers when `target` is `peer`), written and their waits woken; the rows as written. */
export async function issueCommands(db: ManagerDb, hub: CommandHub, c: {
  tenantId: string; target: 'scheduler' | 'peer'; ids: readonly string[]; type: CommandType; args: object; createdBy: string; ackTimeout: number;
}): Promise<CommandTable[]> {
  const now = Date.now();
  const rows: CommandTable[] = c.ids.map((id) => ({
    id: randomUUID(), tenant_id: c.tenantId, scheduler_id: id, target: c.target, type: c.type, args: JSON.stringify(c.args), state: 'pending',
    result: null, error: null, created_by: c.createdBy, deadline_at: now + c.ackTimeout, created_at: now, updated_at: now,
  }));
  if (rows.length) await db.insertInto('commands').values(rows).execute();
  for (const id of c.ids) hub.notify(id);
  return rows;
}

/** A command as the API shows it. */
export function commandView(c: CommandTable): Record<string, unknown> {
  const peer = c.target === 'peer';
  return {
    id: c.id, target: peer ? 'peer' : 'scheduler', scheduler_id: peer ? null : c.scheduler_id, peer_id: peer ? c.scheduler_id : null,
    type: c.type, args: JSON.parse(c.args) as unknown, state: c.state,
    result: c.result === null ? null : JSON.parse(c.result) as unknown, error: c.error, created_by: c.created_by,
    created_at: new Date(c.created_at).toISOString(), updated_at: new Date(c.updated_at).toISOString(),
  };
}
