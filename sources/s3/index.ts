import { z } from 'zod';
import { definePlugin, duration, size, unitObject } from '../../core/index.js';
import { S3SourceClient, type S3SourceConfig } from './s3-source-client.js';

export { S3SourceClient, type S3SourceConfig } from './s3-source-client.js';

const MiB = 1024 * 1024;

/** plugins.json `config` of the `s3` plugin. */
export const s3ConfigSchema = unitObject({
  endpoint: z.url().optional(),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  accessKeyId: z.string().min(1).optional(),
  accessKeySecret: z.string().min(1).optional(),
  sessionToken: z.string().min(1).optional(),
  maxAttempts: z.int().min(1).max(10).optional(),
  /** e.g. "10s" (legacy key: `connectTimeoutMs`, milliseconds). */
  connectTimeout: duration({ min: 100, max: 600_000, legacy: 'connectTimeoutMs' }),
  /** e.g. "5m" (legacy key: `requestTimeoutMs`, milliseconds). */
  requestTimeout: duration({ min: 100, max: 3_600_000, legacy: 'requestTimeoutMs' }),
  /** Multipart upload part size, e.g. "64MiB" (or bytes). */
  partSize: size({ min: 5 * MiB, max: 5 * 1024 * MiB }).optional(),
  uploadConcurrency: z.int().min(1).max(64).optional(),
  listPageSize: z.int().min(1).max(1000).optional(),
  maxClients: z.int().min(1).max(1024).optional(),
}).refine((c) => (c.accessKeyId === undefined) === (c.accessKeySecret === undefined), {
  message: 'accessKeyId and accessKeySecret go together',
  path: ['accessKeySecret'],
});

/** The `s3` source plugin: `s3://bucket/key` URLs on @aws-sdk/client-s3. */
export default definePlugin<S3SourceConfig>({
  manifest: {
    name: 's3',
    version: '0.1.0',
    kind: 'source',
    apiVersion: '1',
    roles: ['peer', 'scheduler', 'manager'],
    provides: ['source:s3'],
    description: 'Amazon S3 and S3-compatible object storage (s3://bucket/key)',
  },
  parseConfig: (raw) => s3ConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const client = new S3SourceClient(ctx.config, ctx.logger);
    ctx.sources.add(client);
    ctx.lifecycle.add({ start: async () => undefined, stop: async () => client.close() });
  },
});
