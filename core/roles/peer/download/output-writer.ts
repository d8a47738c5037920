import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange } from '../../../contracts/source-client.js';
import type { StorageMedium } from '../../../contracts/storage-medium.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import { checkOutputPath } from '../../../protocol/local-api/output-path.js';
import { DigestCheck } from './digest-check.js';
import { pieceSpans } from '../tasks/piece-span.js';
import type { TaskState } from '../tasks/task-state.js';

/**
 * Puts a downloaded task (or a byte range of it) at an output path: a hard link of the medium's
 * task file when the whole file is wanted and both are on one filesystem, else a copy. The result
 * appears atomically (temporary file + rename); on any failure, a digest mismatch included,
 * nothing is left at the output path.
 */
export class OutputWriter {
  constructor(private readonly medium: StorageMedium) {}

  async write(state: TaskState, output: string, opts: { range?: ByteRange; digest?: string; overwrite: boolean; signal?: AbortSignal }): Promise<'hardlink' | 'copy'> {
    await checkOutputPath(output, opts.overwrite);
    const tmp = join(dirname(output), `.${basename(output)}.d7y-${randomBytes(4).toString('hex')}`);
    try {
      const mode = await this.place(state, tmp, opts.range, opts.signal);
      if (opts.digest) {
        const check = new DigestCheck(opts.digest);
        await pipeline(createReadStream(tmp, { highWaterMark: 1024 * 1024 }), check, new Writable({ write: (_c, _e, cb) => cb() }), { signal: opts.signal });
        check.check(opts.range ? `bytes ${opts.range.start}-${opts.range.start + opts.range.length - 1} of ${state.record?.url ?? state.taskId}` : (state.record?.url ?? state.taskId));
      }
      opts.signal?.throwIfAborted();
      await rename(tmp, output);
      return mode;
    } catch (err) {
      await rm(tmp, { force: true });
      throw isNoSpace(err)
        ? new D7yError('D7Y_STORAGE_FULL', `no space left to write ${output}`, { fix: 'free space on that filesystem or choose another -O path', cause: err })
        : toD7yError(err, 'D7Y_STORAGE_ERROR', `writing ${output}`);
    }
  }

  private async place(state: TaskState, tmp: string, range?: ByteRange, signal?: AbortSignal): Promise<'hardlink' | 'copy'> {
    const len = state.contentLength ?? 0;
    const file = this.medium.taskFilePath?.(state.taskId);
    if (!range && file && state.finished) {
      const st = await stat(file).catch(() => undefined);
      if (st?.size === len) {
        try {
          await link(file, tmp);
          return 'hardlink';
        } catch {
          await copyFile(file, tmp);
          return 'copy';
        }
      }
    }
    const out = createWriteStream(tmp, { flags: 'wx' });
    try {
      for (const span of pieceSpans(len, state.pieceLength, range)) {
        const body = await this.medium.readPiece(state.taskId, span.number, span.sub);
        await pipeline(body, out, { end: false, signal });
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    return 'copy';
  }
}

function isNoSpace(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOSPC';
}
