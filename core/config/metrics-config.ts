import { z } from 'zod';

/**
 * The `metrics` block of a role: a small HTTP listener serving Prometheus `/metrics` (and any route
 * another part of the role adds to it). Loopback by default; a port of 0 picks a free one, which the
 * role logs.
 */
export function metricsConfigSchema(defaultPort: number) {
  return z.strictObject({
    enabled: z.boolean().default(true),
    listen: z.strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(defaultPort),
    }).prefault({}),
  }).prefault({});
}

export type MetricsConfig = z.infer<ReturnType<typeof metricsConfigSchema>>;
