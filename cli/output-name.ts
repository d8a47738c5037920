import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { D7yError } from '../core/errors/d7y-error.js';

/** The file name a URL names: its last path segment, percent-decoded; undefined when it names none. */
export function fileNameOfUrl(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.replace(/[?#].*$/, '');
  }
  const last = path.slice(path.lastIndexOf('/') + 1);
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    return undefined;
  }
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name)) return undefined;
  return name;
}

/**
 * The absolute output path of `-O`: a path ending in `/`, or an existing directory, gets the
 * URL's file name appended; anything else is the file path itself.
 */
export async function resolveOutputPath(url: string, output: string): Promise<string> {
  const endsWithSlash = output.endsWith('/') || output.endsWith(sep);
  if (!endsWithSlash && !(await stat(output).catch(() => undefined))?.isDirectory()) return resolve(output);
  const name = fileNameOfUrl(url);
  if (!name) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `-O ${output} is a directory, and ${url} names no file to write in it`, {
      fix: `give a file name: -O ${join(output, 'file-name')}`,
    });
  }
  return resolve(output, name);
}
