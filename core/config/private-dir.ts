import { chmod, mkdir, stat } from 'node:fs/promises';
import { D7yError } from '../errors/d7y-error.js';

/**
 * Creates `dir` (and missing parents) readable by its owner only, or narrows an existing one to
 * 0700: the data dir holds the manager database, the node credential and the proxy CA key.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, 0o700);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the data dir ${dir} cannot be created or made private (0700): ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: 'run d7y as the owner of the data dir, or choose another one (--data-dir, D7Y_DATA_DIR)',
    });
  }
}
