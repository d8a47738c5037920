import { D7yError } from '../../core/index.js';

/**
 * Maps a file system error met while `what` under `dir` to a D7yError: ENOSPC/EDQUOT become
 * D7Y_STORAGE_FULL naming the directory, anything else D7Y_STORAGE_ERROR. D7yErrors pass through.
 */
export function fsFailure(err: unknown, dir: string, what: string): D7yError {
  if (err instanceof D7yError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new D7yError('D7Y_STORAGE_FULL', `disk storage at ${dir} is full (${code}) while ${what}`, {
      fix: `free space on the file system holding ${dir}, lower the disk storage gc watermarks, or set "dir" to a larger volume`,
      cause: err, details: { dir, code },
    });
  }
  return new D7yError('D7Y_STORAGE_ERROR', `disk storage at ${dir} failed while ${what}: ${(err as Error).message}`, {
    fix: `check that ${dir} exists, is writable by d7y and its file system is healthy`,
    cause: err, details: { dir, code },
  });
}
