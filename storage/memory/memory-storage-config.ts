import { z } from 'zod';
import { byteSizeSchema } from '../shared/config-values.js';

/** `config` of the memory storage plugin in plugins.json. */
export const MemoryStorageConfigSchema = z.strictObject({
  /** Byte budget for piece bytes, e.g. "512MiB". */
  capacity: byteSizeSchema.default(512 * 1024 * 1024).refine((n) => n > 0, 'capacity must be more than 0 bytes'),
});

export type MemoryStorageConfig = z.infer<typeof MemoryStorageConfigSchema>;
