import { z } from 'zod';
import { duration, size } from '../../core/index.js';

const percent = z.number().min(1).max(100);

/** `config` of the disk storage plugin in plugins.json. */
export const DiskStorageConfigSchema = z.strictObject({
  /** Root directory of the cache; defaults to the plugin's data dir. Relative paths are resolved against it. */
  dir: z.string().min(1).optional(),
  /** Byte budget of the cache, e.g. "20GiB"; when set, the GC watermarks measure it instead of the file system. */
  quota: size({ min: 1 }).optional(),
  /**
   * Encryption at rest: piece content is encrypted with AES-256-GCM (a nonce per piece write, the
   * tag kept in the piece record) under the 256-bit key in `keyFile` (`openssl rand -hex 32`, mode
   * 0600). The key is never written by d7y; a wrong key is an error, never wrong bytes.
   */
  encryption: z.strictObject({ keyFile: z.string().min(1) }).optional(),
  gc: z.strictObject({
    /** How often GC runs ("1m"; a plain number is milliseconds). */
    interval: duration({ min: 10, legacyNumber: true }).default(60_000),
    /** Tasks not accessed for this long are removed ("6h", "7d"; a plain number is milliseconds). */
    taskTtl: duration({ legacyNumber: true }).default(6 * 3_600_000),
    /** Percent of usage that starts eviction of least recently used finished tasks. */
    highWatermark: percent.default(80),
    /** Percent of usage eviction stops below. */
    lowWatermark: percent.default(60),
  }).prefault({}).refine((gc) => gc.lowWatermark < gc.highWatermark, {
    message: 'gc.lowWatermark must be lower than gc.highWatermark', path: ['lowWatermark'],
  }),
});

export type DiskStorageConfig = z.infer<typeof DiskStorageConfigSchema>;
