import { resolve } from 'node:path';
import { definePlugin } from '../../core/index.js';
import { DiskStorageConfigSchema, type DiskStorageConfig } from './disk-storage-config.js';
import { DiskStorage } from './disk-storage.js';

export { DiskStorage, type DiskStorageOptions } from './disk-storage.js';
export { DiskStorageConfigSchema, type DiskStorageConfig } from './disk-storage-config.js';

/** Storage medium "disk" (the default): one file per task, metadata that survives restarts, TTL and watermark GC. */
export default definePlugin<DiskStorageConfig>({
  manifest: {
    name: 'disk',
    version: '0.1.0',
    kind: 'storage',
    apiVersion: '1',
    roles: ['peer'],
    provides: ['storage:disk'],
    description: 'Pieces in one file per task on local disk, with TTL and watermark garbage collection',
  },
  parseConfig: (raw) => DiskStorageConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const { dir, quota, gc, encryption } = ctx.config;
    ctx.storage.add(new DiskStorage({ dir: dir ? resolve(ctx.dataDir, dir) : ctx.dataDir, quota, gc, encryption, logger: ctx.logger }));
  },
});
