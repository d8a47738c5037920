import { z } from 'zod';
import { duration, unitObject } from '../../core/index.js';

/** The `config` of the `maven` plugin in plugins.json. */
export const mavenPluginConfigSchema = unitObject({
  /** Repositories tried in order for URLs without `?repo=`; credentials are sent to URLs under `url`. */
  repositories: z.array(z.strictObject({
    url: z.url({ protocol: /^https?$/ }),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
  })).default([]),
  /** Time one repository request may take (legacy key: `timeoutMs`, milliseconds). */
  timeout: duration({ min: 1, max: 600_000, legacy: 'timeoutMs', default: 30_000 }),
});

export type MavenPluginConfig = z.infer<typeof mavenPluginConfigSchema>;
