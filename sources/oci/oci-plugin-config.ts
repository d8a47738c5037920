import { z } from 'zod';

const registryName = z.string().regex(/^[a-zA-Z0-9.-]+(?::\d{1,5})?$/, 'a registry host[:port]');

/** The `config` of the `oci` plugin in plugins.json. */
export const ociPluginConfigSchema = z.strictObject({
  /** Registries (`host[:port]`) spoken to over plain http. */
  insecureRegistries: z.array(registryName).default([]),
  /** Basic credentials by registry; also sent to the registry's token service. */
  auths: z.record(registryName, z.strictObject({ username: z.string().min(1), password: z.string() })).default({}),
  /** Default platform `os/arch[/variant]`; the host's when unset. */
  platform: z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/, 'os/arch[/variant]').optional(),
  timeoutMs: z.number().int().positive().max(600_000).default(30_000),
  maxRedirections: z.number().int().min(0).max(20).default(5),
  maxManifestBytes: z.number().int().positive().max(64 * 1024 * 1024).default(4 * 1024 * 1024),
});

export type OciPluginConfig = z.infer<typeof ociPluginConfigSchema>;
