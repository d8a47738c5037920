import { z } from 'zod';

export const PeerConfigSchema = z.strictObject({
  /** A seed peer goes back to the origin for the scheduler. */
  seed: z.boolean().default(false),
  /** Storage medium (by plugin-provided name) that holds pieces. */
  storage: z.strictObject({
    medium: z.string().default('disk'),
  }).prefault({}),
  /** Schedulers as `host:port`. */
  schedulers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')).default(['127.0.0.1:8002']),
});

export type PeerConfig = z.infer<typeof PeerConfigSchema>;
