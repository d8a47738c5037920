import { D7yError } from '../../../../errors/d7y-error.js';
import {
  CommandListQuerySchema, CommandResultSchema, CommandWaitQuerySchema, NewCommandSchema, type PushedCommand,
} from '../../commands/command-schemas.js';
import { commandView, issueCommands } from '../../commands/command-store.js';
import type { ManagerServices } from '../../manager-services.js';
import { consoleAndOpen, route, type ManagerRoute, type Principal } from '../manager-route.js';

const BATCH = 20;
const RECHECK_MS = 1000;

/**
 * The command channel (scope `cluster`): users issue commands to schedulers or to peers; each
 * scheduler and peer holds a wait open (`/schedulers/:id/commands/wait`, `/peers/:id/commands/wait`,
 * answered as soon as a command is created for it) and acknowledges every command with its result.
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

  async function peerTargets(principal: Principal, ids: string[]): Promise<string[]> {
    const rows = await s.db.selectFrom('peers').select(['id', 'last_keepalive_at']).where('tenant_id', '=', principal.tenantId).where('id', 'in', ids).execute();
    for (const id of ids) {
      if (!rows.some((r) => r.id === id)) throw new D7yError('D7Y_NOT_FOUND', `peer ${id} not found`, { fix: 'list the peers (GET /peers) for valid ids' });
    }
    const stale = rows.filter((r) => r.last_keepalive_at < Date.now() - s.config.keepaliveTtl).map((r) => r.id);
    if (stale.length) {
      throw new D7yError('D7Y_CONFLICT', `peer ${stale.join(', ')} is inactive (no keepalive within ${s.config.keepaliveTtl} ms)`, { fix: 'start the peer with a manager link, or name peers that keep alive' });
    }
    return ids;
  }

  /** Hands the pending commands of `id` to its wait, held until one comes or the wait times out. */
  async function waitFor(id: string, timeoutMs: number | undefined): Promise<{ commands: PushedCommand[] }> {
    const hold = Math.min(timeoutMs ?? s.config.commands.waitTimeout, s.config.commands.waitTimeout);
    const until = Date.now() + hold;
    for (;;) {
      const now = Date.now();
      const pending = await s.db.selectFrom('commands').selectAll().where('scheduler_id', '=', id).where('state', '=', 'pending')
        .where('deadline_at', '>', now).orderBy('created_at').limit(BATCH).execute();
      const sent: PushedCommand[] = [];
      for (const c of pending) {
        const r = await s.db.updateTable('commands').set({ state: 'sent', updated_at: now }).where('id', '=', c.id).where('state', '=', 'pending').executeTakeFirst();
        if (Number(r.numUpdatedRows) === 1) sent.push({ id: c.id, type: c.type as PushedCommand['type'], args: JSON.parse(c.args) as Record<string, unknown> });
      }
      if (sent.length || now >= until || s.commands.isClosed) return { commands: sent };
      await s.commands.wait(id, Math.min(RECHECK_MS, until - now));
    }
  }

  return [
    ...consoleAndOpen('/api/v1/commands', '/oapi/v1/commands', 'cluster', {
      method: 'post', summary: 'Send a command (delete_task, run_gc, reload_config, set_limits) now to schedulers, or to peers (peer_ids); one command per target', body: NewCommandSchema, status: 201,
      async handle({ principal, body }) {
        const peers = body.peer_ids !== undefined;
        const ids = peers ? await peerTargets(principal, body.peer_ids!) : await targets(principal, body.scheduler_ids, body.scheduler_cluster_ids);
        const rows = await issueCommands(s.db, s.commands, {
          tenantId: principal.tenantId, target: peers ? 'peer' : 'scheduler', ids, type: body.type, args: body.args,
          createdBy: `${principal.kind}:${principal.name}`, ackTimeout: s.config.commands.ackTimeout,
        });
        return rows.map(commandView);
      },
    }),
    ...consoleAndOpen('/api/v1/commands', '/oapi/v1/commands', 'cluster', {
      method: 'get', summary: 'List the tenant\'s commands, newest first', query: CommandListQuerySchema,
      async handle({ principal, query }) {
        let q = s.db.selectFrom('commands').selectAll().where('tenant_id', '=', principal.tenantId);
        if (query.scheduler_id) q = q.where('scheduler_id', '=', query.scheduler_id).where('target', '=', 'scheduler');
        if (query.peer_id) q = q.where('scheduler_id', '=', query.peer_id).where('target', '=', 'peer');
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
      handle: ({ params, query }) => waitFor(params.id, query.timeout_ms),
    }),
    route({
      method: 'post', path: '/oapi/v1/peers/:id/commands/wait', audit: 'failures', auth: 'pat', scope: 'cluster', resource: 'peer', query: CommandWaitQuerySchema,
      summary: 'A peer or seed peer waits for its commands: answered as soon as one is pending, or empty after the wait timeout',
      handle: ({ params, query }) => waitFor(params.id, query.timeout_ms),
    }),
    route({
      method: 'put', path: '/oapi/v1/commands/:id/result', auth: 'pat', scope: 'cluster', resource: 'command', body: CommandResultSchema,
      summary: 'A scheduler or peer acknowledges a command with its result',
      async handle({ params, body }) {
        const now = Date.now();
        const by = body.scheduler_id ?? body.peer_id!;
        const who = body.scheduler_id ? `scheduler ${by}` : `peer ${by}`;
        const r = await s.db.updateTable('commands')
          .set({ state: body.state, result: JSON.stringify(body.result ?? {}), error: body.error ?? null, updated_at: now })
          .where('id', '=', params.id).where('scheduler_id', '=', by).where('target', '=', body.scheduler_id ? 'scheduler' : 'peer')
          .where('state', 'in', ['pending', 'sent']).executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) {
          throw new D7yError('D7Y_CONFLICT', `command ${params.id} is not awaiting an answer from ${who}`, {
            fix: 'the command timed out, was answered already, or was sent to another node; drop the result',
          });
        }
        const c = await s.db.selectFrom('commands').selectAll().where('id', '=', params.id).executeTakeFirstOrThrow();
        void s.webhooks.emit(c.tenant_id, 'command.finished', commandView(c));
        if (c.type === 'sync_copy') await s.syncs.finishCopyRun(c);
        return commandView(c);
      },
    }),
  ];
}
