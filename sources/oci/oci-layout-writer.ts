import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { D7yError, type SourceClient, type SourceEntry } from '../../core/index.js';

/**
 * Writes the OCI image layout of `url` (an `oci://` image) into `dir` from the client's `list`
 * and `download`, the way a recursive get does: every entry's bytes at its path, each file
 * written to a temporary name and renamed when complete (so a failed download leaves no file).
 * Blob downloads are verified by the client. Resolves with the entries written.
 */
export async function writeOciLayout(client: SourceClient, url: string, dir: string, opts: { signal?: AbortSignal; options?: Record<string, string> } = {}): Promise<SourceEntry[]> {
  if (!client.list) throw new D7yError('D7Y_INVALID_ARGUMENT', 'the source cannot list', { fix: 'use the oci source client' });
  const entries: SourceEntry[] = [];
  for await (const e of client.list({ url, signal: opts.signal, options: opts.options })) if (!e.isDirectory) entries.push(e);
  const root = normalize(dir);
  for (const e of entries) {
    const target = normalize(join(root, e.path));
    if (!target.startsWith(root + sep)) throw new D7yError('D7Y_SOURCE_ERROR', `listing entry "${e.path}" escapes the output directory`, { fix: 'check the source' });
    await mkdir(dirname(target), { recursive: true });
    const dl = await client.download({ url: e.url, signal: opts.signal, options: opts.options });
    const partial = `${target}.partial`;
    await pipeline(dl.stream, createWriteStream(partial));
    await rename(partial, target);
  }
  return entries;
}
