import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { constants, copyFile, link, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange } from '../../../contracts/source-client.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import { checkOutputPath } from '../../../protocol/local-api/output-path.js';
import { DigestCheck } from './digest-check.js';
import { pieceSpans } from '../tasks/piece-span.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import type { TaskState } from '../tasks/task-state.js';

/** How an output file is made from the peer's content file (see OutputWriter). */
export type OutputMode = 'clone' | 'copy' | 'hardlink';

/**
 * Puts a downloaded task (or a byte range of it) at an output path. By default (`auto`): a
 * copy-on-write clone of the medium's task file where the file system has reflinks, else a hard
 * link (checked as below), else a copy; `clone`: a clone where possible, else a copy; `copy`: always a copy; `hardlink`: a hard link when both are on one file system
 * (else a copy), recorded so that a later change of the file makes the peer re-verify the task
 * before using it again (LinkedContentGuard). A range, or a medium without a task file, is copied
 * piece by piece. Resolves with what was done. The result appears atomically (temporary file +
 * rename); on any failure, a digest mismatch included, nothing is left at the output path.
 */
export class OutputWriter {
  constructor(private readonly catalog: TaskCatalog) {}

  async write(state: TaskState, output: string, opts: { range?: ByteRange; digest?: string; overwrite: boolean; mode?: OutputMode | 'auto'; signal?: AbortSignal }): Promise<OutputMode> {
    await checkOutputPath(output, opts.overwrite);
    const tmp = join(dirname(output), `.${basename(output)}.d7y-${randomBytes(4).toString('hex')}`);
    try {
      const mode = await this.place(state, tmp, opts.mode ?? 'auto', opts.range, opts.signal);
      if (opts.digest) {
        const check = new DigestCheck(opts.digest);
        await pipeline(createReadStream(tmp, { highWaterMark: 1024 * 1024 }), check, new Writable({ write: (_c, _e, cb) => cb() }), { signal: opts.signal });
        check.check(opts.range ? `bytes ${opts.range.start}-${opts.range.start + opts.range.length - 1} of ${state.record?.url ?? state.taskId}` : (state.record?.url ?? state.taskId));
      }
      opts.signal?.throwIfAborted();
      await rename(tmp, output);
      if (mode === 'hardlink') await this.catalog.linked.record(state);
      return mode;
    } catch (err) {
      await rm(tmp, { force: true });
      throw isNoSpace(err)
        ? new D7yError('D7Y_STORAGE_FULL', `no space left to write ${output}`, { fix: 'free space on that filesystem or choose another -O path', cause: err })
        : toD7yError(err, 'D7Y_STORAGE_ERROR', `writing ${output}`);
    }
  }

  private async place(state: TaskState, tmp: string, wanted: OutputMode | 'auto', range?: ByteRange, signal?: AbortSignal): Promise<OutputMode> {
    const len = state.contentLength ?? 0;
    const medium = this.catalog.medium;
    const file = medium.taskFilePath?.(state.taskId);
    if (!range && file && state.finished) {
      const st = await stat(file).catch(() => undefined);
      if (st?.size === len) return placeFile(file, tmp, wanted);
    }
    const out = createWriteStream(tmp, { flags: 'wx' });
    try {
      for (const span of pieceSpans(len, state.pieceLength, range)) {
        const body = await medium.readPiece(state.taskId, span.number, span.sub);
        await pipeline(body, out, { end: false, signal });
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    return 'copy';
  }
}

/** Makes `tmp` from the whole task file as `wanted` asks, falling back to a copy; resolves with what it did. */
async function placeFile(file: string, tmp: string, wanted: OutputMode | 'auto'): Promise<OutputMode> {
  if (wanted === 'clone' || wanted === 'auto') {
    try {
      await copyFile(file, tmp, constants.COPYFILE_FICLONE_FORCE);
      return 'clone';
    } catch {
      await rm(tmp, { force: true });
    }
  }
  if (wanted === 'hardlink' || wanted === 'auto') {
    try {
      await link(file, tmp);
      return 'hardlink';
    } catch {
      // another file system, or links refused: a copy
    }
  }
  await copyFile(file, tmp);
  return 'copy';
}

function isNoSpace(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOSPC';
}
