import { z } from 'zod';
import { duration, size, unitObject } from '../../core/index.js';

const registryName = z.string().regex(/^[a-zA-Z0-9.-]+(?::\d{1,5})?$/, 'a registry host[:port]');

/** The `config` of the `oci` plugin in plugins.json. */
export const ociPluginConfigSchema = unitObject({
  /** Registries (`host[:port]`) spoken to over plain http. */
  insecureRegistries: z.array(registryName).default([]),
  /** Basic credentials by registry; also sent to the registry's token service. */
  auths: z.record(registryName, z.strictObject({ username: z.string().min(1), password: z.string() })).default({}),
  /** Default platform `os/arch[/variant]`; the host's when unset. */
  platform: z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/, 'os/arch[/variant]').optional(),
  /** Time one registry request may take (legacy key: `timeoutMs`, milliseconds). */
  timeout: duration({ min: 1, max: 600_000, legacy: 'timeoutMs', default: 30_000 }),
  maxRedirections: z.number().int().min(0).max(20).default(5),
  /** Largest manifest or index read (legacy key: `maxManifestBytes`). */
  maxManifestSize: size({ min: 1, max: 64 * 1024 * 1024, legacy: 'maxManifestBytes', default: 4 * 1024 * 1024 }),
  /** Pushing (a sync to a registry): blobs of a known size up to this go in one streamed request, larger ones in chunks. */
  monolithicUploadMaxSize: size({ min: 0 }).default(512 * 1024 * 1024),
  /** Pushing: bytes per chunk of a chunked blob upload (one chunk per upload is held in memory). */
  uploadChunkSize: size({ min: 1024, max: 1024 * 1024 * 1024 }).default(8 * 1024 * 1024),
});

export type OciPluginConfig = z.infer<typeof ociPluginConfigSchema>;
