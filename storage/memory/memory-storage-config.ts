import { z } from 'zod';
import { size } from '../../core/index.js';

/** `config` of the memory storage plugin in plugins.json. */
export const MemoryStorageConfigSchema = z.strictObject({
  /** Byte budget for piece bytes, e.g. "512MiB". */
  capacity: size({ min: 1 }).default(512 * 1024 * 1024),
});

export type MemoryStorageConfig = z.infer<typeof MemoryStorageConfigSchema>;
