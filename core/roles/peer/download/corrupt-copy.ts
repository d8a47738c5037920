import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { corruptPieces } from '../tasks/piece-recheck.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import type { TaskState } from '../tasks/task-state.js';

/**
 * A download's bytes did not match the digest the user asked for (`mismatch`): this peer's copy of
 * the task cannot be trusted, so it is evicted (unless another download of it runs), and the next
 * download fetches the task afresh instead of failing again on the same bytes. Every piece is read
 * back first, so the error says which it was: pieces that changed on disk since they were checked
 * (the peer's copy was corrupt), or a copy that matches what was received yet not the digest.
 */
export async function evictMismatched(catalog: TaskCatalog, state: TaskState, what: string, mismatch: D7yError, logger: Logger): Promise<D7yError> {
  if (state.running) return mismatch;
  const bad = await corruptPieces(catalog.medium, state).catch(() => [] as number[]);
  await catalog.discard(state);
  logger.warn({ taskId: state.taskId, badPieces: bad.slice(0, 16), ...mismatch.details }, 'download did not match its digest; the task was evicted');
  if (bad.length > 0) {
    const list = bad.length > 8 ? `${bad.slice(0, 8).join(', ')}, ...` : bad.join(', ');
    return new D7yError('D7Y_DIGEST_MISMATCH', `this peer's copy of ${what} was corrupt: ${bad.length} piece(s) (${list}) changed on disk after they were checked; the copy was removed`, {
      fix: 'run the download again: it fetches the file afresh from the swarm or the origin', details: mismatch.details, cause: mismatch,
    });
  }
  return new D7yError('D7Y_DIGEST_MISMATCH', `${mismatch.message}; this peer's copy was removed`, {
    fix: 'run the download again to fetch it afresh; if it differs again, the origin serves other content than the digest names (check --digest)',
    details: mismatch.details, cause: mismatch,
  });
}
