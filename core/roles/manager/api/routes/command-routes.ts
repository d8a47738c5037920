import { randomUUID } from 'node:crypto';
import { D7yError } from '../../../../errors/d7y-error.js';
import {
  CommandListQuerySchema, CommandResultSchema, CommandWaitQuerySchema, NewCommandSchema, type PushedCommand,
} from '../../commands/command-schemas.js';
import type { CommandTable } from '../../database/schema.js';
import type { ManagerServices } from '../../manager-services.js';
import { consoleAndOpen, route, type ManagerRoute, type Principal } from '../manager-route.js';

const BATCH = 20;
const RECHECK_MS = 1000;

function commandView(c: CommandTable): Record<string, unknown> {
  return {
    id: c.id, scheduler_id: c.scheduler_id, type: c.type, args: JSON.parse(c.args) as unknown, state: c.state,
    result: c.result === null ? null : JSON.parse(c.result) as unknown, error: c.error, created_by: c.created_by,
    created_at: new Date(c.created_at).toISOString(), updated_at: new Date(c.updated_at).toISOString(),
  };
}

/**
 * The command channel (scope `cluster`): users issue commands to schedulers; each scheduler holds
 * a wait open (`/schedulers/:id/commands/wait`, answered as soon as a command is created for it)
 * and acknowledges every command with its result.
 */
export function commandRoutes(s: ManagerServices): ManagerRoute[] {
  async function targets(principal: Principal, ids?: string[], clusters?: string[]): Promise<string[]> {
    const alive = Date.now() - s.config.keepaliveTtl;
    let q = s.db.selectFrom('schedulers').select(['id', 'tenant_id', 'last_keepalive_at']).where('tenant_id', '=', principal.tenantId);
    if (ids?.length) q = q.where('id', 'in', ids);
    if (clusters?.length) q = q.where('cluster_id', 'in', clusters);
    const rows = await q.execute();
    for (const id of ids ?? []) {
      if (!rows.some((r) => r.id === id)) throw new D7yError('D7Y_NOT_FOUND', `scheduler ${id} not found`, { fix: 'list the schedulers of your clusters for valid ids' });
    }
    const active = rows.filter((r) => r.last_keepalive_at >= alive).map((r) => r.id);
    if (!active.length) {
      throw new D7yError('D7Y_CONFLICT', 'no active scheduler to send the command to', { fix: 'start a scheduler linked to this manager, or name schedulers that keep alive' });
    }
    return active;
  }

  return [
    ...consoleAndOpen('/api/v1/commands', '/oapi/v1/commands', 'cluster', {
      method: 'post', summary: 'Send a command (delete_task, run_gc, reload_config, set_limits) to schedulers now; one command per scheduler', body: NewCommandSchema, status: 201,
      async handle({ principal, body }) {
        const schedulers = await targets(principal, body.scheduler_ids, body.scheduler_cluster_ids);
        const now = Date.now();
        const rows: CommandTable[] = schedulers.map((id) => ({
          id: randomUUID(), tenant_id: principal.tenantId, scheduler_id: id, type: body.type, args: JSON.stringify(body.args), state: 'pending',
          result: null, error: null, created_by: `${principal.kind}:${principal.name}`, deadline_at: now + s.config.commands.ackTimeout, created_at: now, updated_at: now,
        }));
        await s.db.insertInto('commands').values(rows).execute();
        for (const id of schedulers) s.commands.notify(id);
        return rows.map(commandView);
      },
    }),
    ...consoleAndOpen('/api/v1/commands', '/oapi/v1/commands', 'cluster', {
      method: 'get', summary: 'List the tenant\'s commands, newest first', query: CommandListQuerySchema,
      async handle({ principal, query }) {
        let q = s.db.selectFrom('commands').selectAll().where('tenant_id', '=', principal.tenantId);
        if (query.scheduler_id) q = q.where('scheduler_id', '=', query.scheduler_id);
        return (await q.orderBy('created_at', 'desc').limit(query.limit).execute()).map(commandView);
      },
    }),
    ...consoleAndOpen('/api/v1/commands/:id', '/oapi/v1/commands/:id', 'cluster', {
      method: 'get', summary: 'Get a command with its acknowledged result', resource: 'command',
      async handle({ params }) {
        return commandView(await s.db.selectFrom('commands').selectAll().where('id', '=', params.id).executeTakeFirstOrThrow());
      },
    }),
    route({
      method: 'post', path: '/oapi/v1/schedulers/:id/commands/wait', audit: 'failures', auth: 'pat', scope: 'cluster', resource: 'scheduler', query: CommandWaitQuerySchema,
      summary: 'A scheduler waits for its commands: answered as soon as one is pending, or empty after the wait timeout',
      async handle({ params, query }) {
        const hold = Math.min(query.timeout_ms ?? s.config.commands.waitTimeout, s.config.commands.waitTimeout);
        const until = Date.now() + hold;
        for (;;) {
          const now = Date.now();
          const pending = await s.db.selectFrom('commands').selectAll().where('scheduler_id', '=', params.id).where('state', '=', 'pending')
            .where('deadline_at', '>', now).orderBy('created_at').limit(BATCH).execute();
          const sent: PushedCommand[] = [];
          for (const c of pending) {
            const r = await s.db.updateTable('commands').set({ state: 'sent', updated_at: now }).where('id', '=', c.id).where('state', '=', 'pending').executeTakeFirst();
            if (Number(r.numUpdatedRows) === 1) sent.push({ id: c.id, type: c.type as PushedCommand['type'], args: JSON.parse(c.args) as Record<string, unknown> });
          }
          if (sent.length || now >= until || s.commands.isClosed) return { commands: sent };
          await s.commands.wait(params.id, Math.min(RECHECK_MS, until - now));
        }
      },
    }),
    route({
      method: 'put', path: '/oapi/v1/commands/:id/result', auth: 'pat', scope: 'cluster', resource: 'command', body: CommandResultSchema,
      summary: 'A scheduler acknowledges a command with its result',
      async handle({ params, body }) {
        const now = Date.now();
        const r = await s.db.updateTable('commands')
          .set({ state: body.state, result: JSON.stringify(body.result ?? {}), error: body.error ?? null, updated_at: now })
          .where('id', '=', params.id).where('scheduler_id', '=', body.scheduler_id).where('state', 'in', ['pending', 'sent']).executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) {
          throw new D7yError('D7Y_CONFLICT', `command ${params.id} is not awaiting an answer from scheduler ${body.scheduler_id}`, {
            fix: 'the command timed out, was answered already, or was sent to another scheduler; drop the result',
          });
        }
        const c = await s.db.selectFrom('commands').selectAll().where('id', '=', params.id).executeTakeFirstOrThrow();
        void s.webhooks.emit(c.tenant_id, 'command.finished', commandView(c));
        return commandView(c);
      },
    }),
  ];
}
