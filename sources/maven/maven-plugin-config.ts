import { z } from 'zod';

/** The `config` of the `maven` plugin in plugins.json. */
export const mavenPluginConfigSchema = z.strictObject({
  /** Repositories tried in order for URLs without `?repo=`; credentials are sent to URLs under `url`. */
  repositories: z.array(z.strictObject({
    url: z.url({ protocol: /^https?$/ }),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
  })).default([]),
  timeoutMs: z.number().int().positive().max(600_000).default(30_000),
});

export type MavenPluginConfig = z.infer<typeof mavenPluginConfigSchema>;
