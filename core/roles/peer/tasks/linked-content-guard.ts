import { stat } from 'node:fs/promises';
import type { LinkStamp, StorageMedium } from '../../../contracts/storage-medium.js';
import type { Logger } from '../../../logging/logger.js';
import { corruptPieces } from './piece-recheck.js';
import type { TaskState } from './task-state.js';

/** The stamp of the file at `path`, or undefined when it is gone. */
export async function linkStampOf(path: string): Promise<LinkStamp | undefined> {
  const st = await stat(path).catch(() => undefined);
  return st ? { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino } : undefined;
}

function sameStamp(a: LinkStamp, b: LinkStamp | undefined): boolean {
  return b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/**
 * Keeps a task whose content file is hard-linked at an output path from being used after that
 * file changed. `check` stats the content file (tasks never linked cost nothing); on any change of
 * size, mtime, ctime or inode it reads every held piece back and compares its crc32 with the
 * recorded digest: all equal, the new stamp is kept; any different, the task is dropped (its
 * content file unlinked, so the user's file keeps their edit and the next download starts afresh).
 * Checks of one task run one at a time.
 */
export class LinkedContentGuard {
  private readonly checking = new Map<string, Promise<void>>();

  constructor(
    private readonly medium: StorageMedium,
    private readonly drop: (state: TaskState) => Promise<void>,
    private readonly logger?: Logger,
  ) {}

  /** Resolves once the task is safe to read: unchanged, re-verified, or dropped. */
  async check(state: TaskState): Promise<void> {
    if (!state.record?.linked || state.running) return;
    const pending = this.checking.get(state.taskId);
    if (pending) return pending;
    const run = this.verify(state).finally(() => this.checking.delete(state.taskId));
    this.checking.set(state.taskId, run);
    return run;
  }

  /** Records the content file as it is now; call after the link (and its rename) is made. */
  async record(state: TaskState): Promise<void> {
    const path = this.medium.taskFilePath?.(state.taskId);
    const stamp = path ? await linkStampOf(path) : undefined;
    if (!stamp || !state.record) return;
    state.record = await this.medium.putTask({ ...state.record, linked: stamp });
  }

  private async verify(state: TaskState): Promise<void> {
    const record = state.record;
    const path = this.medium.taskFilePath?.(state.taskId);
    if (!record?.linked || !path) return;
    const now = await linkStampOf(path);
    if (sameStamp(record.linked, now)) return;
    const bad = now?.size === record.contentLength ? await corruptPieces(this.medium, state) : [...state.pieces.keys()];
    if (bad.length === 0) {
      state.record = await this.medium.putTask({ ...record, linked: now });
      this.logger?.info({ taskId: state.taskId }, 'linked content file changed on disk; every piece still matches its digest');
      return;
    }
    this.logger?.warn({ taskId: state.taskId, badPieces: bad.slice(0, 16), path }, 'linked content file was modified; dropping the task');
    await this.drop(state);
  }
}
