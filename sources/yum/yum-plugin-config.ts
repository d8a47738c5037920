import { z } from 'zod';
import { duration, size, unitObject } from '../../core/index.js';

/** The `config` of the `yum` plugin in plugins.json. */
export const yumPluginConfigSchema = unitObject({
  /** Basic credentials sent to repositories under each `url`. */
  credentials: z.array(z.strictObject({ url: z.url({ protocol: /^https?$/ }), username: z.string().min(1), password: z.string() })).default([]),
  /** Preferred architectures, best first; the host's and noarch when unset. */
  arches: z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1).optional(),
  /** Time one repository request may take (legacy key: `timeoutMs`, milliseconds). */
  timeout: duration({ min: 1, max: 600_000, legacy: 'timeoutMs', default: 30_000 }),
  /** Largest repository metadata file read (legacy key: `maxMetadataBytes`). */
  maxMetadataSize: size({ min: 1, legacy: 'maxMetadataBytes', default: 256 * 1024 * 1024 }),
});

export type YumPluginConfig = z.infer<typeof yumPluginConfigSchema>;
