import { randomBytes } from 'node:crypto';
import { D7yError } from '../../core/errors/d7y-error.js';
import { run } from './processes.js';

/** Resolves when `rclone` runs; D7Y_MISSING_DEPENDENCY saying how to install it otherwise. */
export async function requireRclone(): Promise<void> {
  await run('rclone', ['version'], 10_000).catch(() => {
    throw new D7yError('D7Y_MISSING_DEPENDENCY', 'rclone is not installed', { fix: 'apt-get install rclone (npm run bench installs it as root)' });
  });
}

/** `mib` MiB of random bytes, one MiB at a time (for streaming large objects into a store). */
export function* randomMiB(mib: number): Generator<Buffer> {
  for (let i = 0; i < mib; i++) yield randomBytes(2 ** 20);
}
