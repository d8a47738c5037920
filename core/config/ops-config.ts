import { z } from 'zod';

/**
 * A role's ops listener (`/healthz`, `/readyz`, and the routes other parts add to it): off unless
 * `enabled`, so several roles of one host or test never fight over its port; the deploy configs
 * turn it on. `port` 0 picks a free port.
 */
export function opsConfigSchema(defaultPort: number) {
  return z.strictObject({
    enabled: z.boolean().default(false),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(defaultPort),
  });
}

export type OpsConfig = z.infer<ReturnType<typeof opsConfigSchema>>;
