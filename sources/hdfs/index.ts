import { z } from 'zod';
import { definePlugin, duration, unitObject } from '../../core/index.js';
import { HdfsSourceClient, type HdfsSourceConfig } from './hdfs-source-client.js';

export { HdfsSourceClient, type HdfsSourceConfig } from './hdfs-source-client.js';

/** plugins.json `config` of the `hdfs` plugin. */
export const hdfsConfigSchema = unitObject({
  protocol: z.enum(['http', 'https']).optional(),
  defaultPort: z.int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  delegationToken: z.string().min(1).optional(),
  /** e.g. "10s" (legacy key: `connectTimeoutMs`, milliseconds). */
  connectTimeout: duration({ min: 100, max: 600_000, legacy: 'connectTimeoutMs' }),
  /** e.g. "5m" (legacy key: `requestTimeoutMs`, milliseconds). */
  requestTimeout: duration({ min: 100, max: 3_600_000, legacy: 'requestTimeoutMs' }),
  maxRedirects: z.int().min(1).max(10).optional(),
  maxListDirectories: z.int().min(1).optional(),
});

/** The `hdfs` source plugin: `hdfs://namenode:port/path` over WebHDFS. */
export default definePlugin<HdfsSourceConfig>({
  manifest: {
    name: 'hdfs',
    version: '0.1.0',
    kind: 'source',
    apiVersion: '1',
    roles: ['peer', 'scheduler', 'manager'],
    provides: ['source:hdfs'],
    description: 'HDFS over the WebHDFS REST API (hdfs://namenode:port/path)',
  },
  parseConfig: (raw) => hdfsConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const client = new HdfsSourceClient(ctx.config, ctx.logger);
    ctx.sources.add(client);
    ctx.lifecycle.add({ start: async () => undefined, stop: () => client.close() });
  },
});
