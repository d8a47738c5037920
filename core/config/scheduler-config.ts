import { z } from 'zod';

export const SchedulerConfigSchema = z.strictObject({
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8002),
  }).prefault({}),
});

export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;
