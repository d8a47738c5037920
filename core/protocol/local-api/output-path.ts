import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { D7yError } from '../../errors/d7y-error.js';

/**
 * Checks an output path before any download starts: absolute, in an existing directory, and
 * either free or (with `overwrite`) a regular file. A directory, device, FIFO or socket is never
 * replaced, nor a symbolic link (the fix names the file it points to).
 */
export async function checkOutputPath(output: string, overwrite: boolean): Promise<void> {
  if (!isAbsolute(output)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `output path ${output} is not absolute`, { fix: 'give the daemon an absolute output path' });
  }
  const dir = dirname(output);
  const d = await stat(dir).catch(() => undefined);
  if (!d?.isDirectory()) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `cannot write ${output}: directory ${dir} does not exist`, {
      fix: `create it first (mkdir -p ${dir}) or choose another -O path`,
    });
  }
  const f = await lstat(output).catch(() => undefined);
  if (!f) return;
  if (f.isSymbolicLink()) {
    const target = await realpath(output).catch(() => undefined);
    throw new D7yError('D7Y_INVALID_ARGUMENT', `cannot write ${output}: it is a symbolic link${target ? ` to ${target}` : ' whose target does not exist'}`, {
      fix: target ? `give the file itself to -O (-O ${target}), or remove the link` : 'remove the link, or choose another -O path',
    });
  }
  if (!f.isFile()) {
    const what = f.isDirectory() ? 'a directory' : f.isFIFO() ? 'a named pipe' : f.isSocket() ? 'a socket' : 'a device';
    throw new D7yError('D7Y_INVALID_ARGUMENT', `cannot write ${output}: it is ${what}, and only a regular file is ever replaced`, {
      fix: f.isDirectory() ? 'give a file path to -O' : 'use -O - to stream the bytes (e.g. -O - > that path), or choose a file path',
    });
  }
  if (!overwrite) {
    throw new D7yError('D7Y_CONFLICT', `${output} already exists`, { fix: 'pass --overwrite to replace it, or choose another -O path' });
  }
}
