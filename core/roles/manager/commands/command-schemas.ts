import { z } from 'zod';

/** What a command asks a scheduler or a peer to do. */
export const COMMAND_TYPES = ['delete_task', 'run_gc', 'reload_config', 'set_limits'] as const;
/** `sync_copy` is issued by the manager itself (a copy-mode sync job run by a seed peer), never through the API. */
export type CommandType = typeof COMMAND_TYPES[number] | 'sync_copy';

const Targets = {
  /** Schedulers to send it to; unset (and no peer_ids): every active scheduler of the clusters (or of the tenant). */
  scheduler_ids: z.array(z.string().min(1)).max(1000).optional(),
  scheduler_cluster_ids: z.array(z.string().min(1)).max(1000).optional(),
  /** Peers or seed peers (ids from `GET /peers`) to send it to instead of schedulers; each gets it over its own manager link. */
  peer_ids: z.array(z.string().min(1)).min(1).max(1000).optional(),
};

/** Limits a set_limits command may change on a scheduler. */
export const SCHEDULER_LIMITS = ['candidateParentLimit', 'filterParentLimit', 'maxBackToSourcePeersPerTask'] as const;
/** Limits a set_limits command may change on a peer (bytes/s, 0 = unlimited). */
export const PEER_LIMITS = ['uploadRateLimit', 'downloadRateLimit'] as const;

export const NewCommandSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('delete_task'), args: z.strictObject({ task_id: z.string().regex(/^[0-9a-f]{64}$/, 'a 64-hex-digit task id') }), ...Targets }),
  z.strictObject({ type: z.literal('run_gc'), args: z.strictObject({}).default({}), ...Targets }),
  z.strictObject({ type: z.literal('reload_config'), args: z.strictObject({}).default({}), ...Targets }),
  z.strictObject({
    type: z.literal('set_limits'),
    args: z.strictObject({
      candidateParentLimit: z.number().int().min(1).max(20).optional(),
      filterParentLimit: z.number().int().min(1).max(1000).optional(),
      maxBackToSourcePeersPerTask: z.number().int().min(0).max(10_000).optional(),
      uploadRateLimit: z.number().int().min(0).optional(),
      downloadRateLimit: z.number().int().min(0).optional(),
    }).refine((a) => Object.keys(a).length > 0, 'give at least one limit'),
    ...Targets,
  }),
]).superRefine((c, ctx) => {
  if (c.peer_ids && (c.scheduler_ids || c.scheduler_cluster_ids)) {
    ctx.addIssue({ code: 'custom', path: ['peer_ids'], message: 'a command goes to peers or to schedulers: give peer_ids, or scheduler_ids/scheduler_cluster_ids' });
  }
  if (c.type !== 'set_limits') return;
  const wrong = Object.keys(c.args).filter((k) => !(c.peer_ids ? PEER_LIMITS : SCHEDULER_LIMITS).includes(k as never));
  if (wrong.length) {
    ctx.addIssue({
      code: 'custom', path: ['args', wrong[0]!],
      message: c.peer_ids ? `a peer's limits are ${PEER_LIMITS.join(', ')}` : `a scheduler's limits are ${SCHEDULER_LIMITS.join(', ')} (give peer_ids for ${PEER_LIMITS.join(', ')})`,
    });
  }
});
export type NewCommand = z.infer<typeof NewCommandSchema>;

export const CommandResultSchema = z.strictObject({
  /** Who answers: the scheduler, or the peer, the command was sent to. */
  scheduler_id: z.string().min(1).optional(),
  peer_id: z.string().min(1).optional(),
  state: z.enum(['succeeded', 'failed']),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.string().max(4096).optional(),
}).refine((r) => Boolean(r.scheduler_id) !== Boolean(r.peer_id), { message: 'give scheduler_id or peer_id', path: ['scheduler_id'] });

export const CommandWaitQuerySchema = z.strictObject({
  /** How long to hold the wait when nothing is pending (capped by manager.commands.waitTimeout). */
  timeout_ms: z.coerce.number().int().min(0).max(600_000).optional(),
});

export const CommandListQuerySchema = z.strictObject({
  scheduler_id: z.string().optional(),
  peer_id: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** A command as its scheduler or peer receives it. */
export interface PushedCommand {
  id: string;
  type: CommandType;
  args: Record<string, unknown>;
}
