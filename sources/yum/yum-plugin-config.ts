import { z } from 'zod';

/** The `config` of the `yum` plugin in plugins.json. */
export const yumPluginConfigSchema = z.strictObject({
  /** Basic credentials sent to repositories under each `url`. */
  credentials: z.array(z.strictObject({ url: z.url({ protocol: /^https?$/ }), username: z.string().min(1), password: z.string() })).default([]),
  /** Preferred architectures, best first; the host's and noarch when unset. */
  arches: z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1).optional(),
  timeoutMs: z.number().int().positive().max(600_000).default(30_000),
  maxMetadataBytes: z.number().int().positive().default(256 * 1024 * 1024),
});

export type YumPluginConfig = z.infer<typeof yumPluginConfigSchema>;
