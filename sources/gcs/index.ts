import { z } from 'zod';
import { definePlugin, size } from '../../core/index.js';
import { GcsSourceClient, type GcsSourceConfig } from './gcs-source-client.js';

export { GcsSourceClient, type GcsSourceConfig } from './gcs-source-client.js';

/** plugins.json `config` of the `gcs` plugin. */
export const gcsConfigSchema = z.strictObject({
  endpoint: z.url().optional(),
  credentialFile: z.string().min(1).optional(),
  accessToken: z.string().min(1).optional(),
  projectId: z.string().min(1).optional(),
  maxRetries: z.int().min(0).max(10).optional(),
  listPageSize: z.int().min(1).max(1000).optional(),
  /** Resumable upload chunk, a multiple of 256KiB, e.g. "8MiB" (or bytes). */
  uploadChunkSize: size({ min: 256 * 1024 }).pipe(z.int().multipleOf(256 * 1024, 'must be a multiple of 256KiB')).optional(),
  maxClients: z.int().min(1).max(1024).optional(),
});

/** The `gcs` source plugin: `gs://bucket/object` URLs on @google-cloud/storage. */
export default definePlugin<GcsSourceConfig>({
  manifest: {
    name: 'gcs',
    version: '0.1.0',
    kind: 'source',
    apiVersion: '1',
    roles: ['peer', 'scheduler', 'manager'],
    provides: ['source:gs'],
    description: 'Google Cloud Storage (gs://bucket/object)',
  },
  parseConfig: (raw) => gcsConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const client = new GcsSourceClient(ctx.config, ctx.logger);
    ctx.sources.add(client);
    ctx.lifecycle.add({ start: async () => undefined, stop: () => client.close() });
  },
});
