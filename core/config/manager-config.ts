import { z } from 'zod';

export const ManagerConfigSchema = z.strictObject({
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
  }).prefault({}),
  database: z.strictObject({
    /** `postgres://…` for PostgreSQL; unset means the embedded SQLite file in the data directory. */
    url: z.string().optional(),
  }).prefault({}),
});

export type ManagerConfig = z.infer<typeof ManagerConfigSchema>;
