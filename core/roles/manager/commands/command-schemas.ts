import { z } from 'zod';

/** What a command asks a scheduler to do. */
export const COMMAND_TYPES = ['delete_task', 'run_gc', 'reload_config', 'set_limits'] as const;
export type CommandType = typeof COMMAND_TYPES[number];

const Targets = {
  /** Schedulers to send it to; unset: every active scheduler of the clusters (or of the tenant). */
  scheduler_ids: z.array(z.string().min(1)).max(1000).optional(),
  scheduler_cluster_ids: z.array(z.string().min(1)).max(1000).optional(),
};

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
    }).refine((a) => Object.keys(a).length > 0, 'give at least one limit'),
    ...Targets,
  }),
]);
export type NewCommand = z.infer<typeof NewCommandSchema>;

export const CommandResultSchema = z.strictObject({
  scheduler_id: z.string().min(1),
  state: z.enum(['succeeded', 'failed']),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.string().max(4096).optional(),
});

export const CommandWaitQuerySchema = z.strictObject({
  /** How long to hold the wait when nothing is pending (capped by manager.commands.waitTimeout). */
  timeout_ms: z.coerce.number().int().min(0).max(600_000).optional(),
});

export const CommandListQuerySchema = z.strictObject({
  scheduler_id: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** A command as its scheduler receives it. */
export interface PushedCommand {
  id: string;
  type: CommandType;
  args: Record<string, unknown>;
}
