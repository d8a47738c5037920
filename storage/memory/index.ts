import { definePlugin } from '../../core/index.js';
import { MemoryStorageConfigSchema, type MemoryStorageConfig } from './memory-storage-config.js';
import { MemoryStorage } from './memory-storage.js';

export { MemoryStorage, type MemoryStorageOptions } from './memory-storage.js';
export { MemoryStorageConfigSchema, type MemoryStorageConfig } from './memory-storage-config.js';

/** Storage medium "memory": pieces in RAM within a byte budget, LRU eviction, nothing persists. */
export default definePlugin<MemoryStorageConfig>({
  manifest: {
    name: 'memory',
    version: '0.1.0',
    kind: 'storage',
    apiVersion: '1',
    roles: ['peer'],
    provides: ['storage:memory'],
    description: 'Pieces held in memory within a byte budget, least recently used tasks evicted first',
  },
  parseConfig: (raw) => MemoryStorageConfigSchema.parse(raw ?? {}),
  register(ctx) {
    ctx.storage.add(new MemoryStorage({ capacity: ctx.config.capacity, logger: ctx.logger }));
  },
});
