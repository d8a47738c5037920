import { D7yError } from '../../core/index.js';

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Refuses task ids that could not be a file name (d7y task ids are 64 hex characters). */
export function checkTaskId(taskId: string): void {
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${String(taskId).slice(0, 80)}" is not a task id`, {
      fix: 'pass the task id d7y computed for the download (64 hex characters)',
    });
  }
}

/** Refuses a piece whose number, offset or length is not a non-negative safe integer. */
export function checkPiece(piece: { number: number; offset: number; length: number }): void {
  for (const key of ['number', 'offset', 'length'] as const) {
    if (!Number.isSafeInteger(piece[key]) || piece[key] < 0) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `piece ${key} ${String(piece[key])} is not a whole number of 0 or more`, {
        fix: 'compute piece numbers and bounds with pieceBounds() from the task length and piece length',
      });
    }
  }
}

/** Checks a sub-range against the piece length and returns absolute bounds inside the piece. */
export function checkRange(taskId: string, piece: { number: number; length: number }, range?: { start: number; length: number }): { start: number; length: number } {
  if (!range) return { start: 0, length: piece.length };
  const { start, length } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > piece.length) {
    throw new D7yError('D7Y_INVALID_ARGUMENT',
      `range start ${start} length ${length} is outside piece ${piece.number} of task ${taskId} (${piece.length} bytes)`, {
        fix: 'request a range inside the piece: 0 <= start and start + length <= piece length',
      });
  }
  return { start, length };
}

export function taskNotFound(taskId: string, medium: string): D7yError {
  return new D7yError('D7Y_TASK_NOT_FOUND', `task ${taskId} is not in ${medium} storage`, {
    fix: 'create the task with putTask before writing its pieces',
  });
}

export function pieceNotFound(taskId: string, pieceNumber: number, medium: string): D7yError {
  return new D7yError('D7Y_PIECE_NOT_FOUND', `piece ${pieceNumber} of task ${taskId} is not in ${medium} storage`, {
    fix: 'download the piece first, or ask a peer that has it',
  });
}

/** `what` names the medium, e.g. "disk storage at /var/lib/d7y/disk". */
export function notRunning(what: string): D7yError {
  return new D7yError('D7Y_STORAGE_ERROR', `${what} is not running`, {
    fix: 'start the storage medium before use (the peer role does this)',
  });
}

/**
 * Checks a `readWritten` call against the piece the medium holds or is writing: the caller's bounds
 * are that piece's, and `range` lies within its first `written` bytes (all of them once held).
 * Returns the range inside the piece.
 */
export function checkWrittenRange(
  taskId: string,
  piece: { number: number; offset: number; length: number },
  asked: { offset: number; length: number },
  range: { start: number; length: number } | undefined,
  written: number,
): { start: number; length: number } {
  if (asked.offset !== piece.offset || asked.length !== piece.length) {
    throw new D7yError('D7Y_INVALID_ARGUMENT',
      `piece ${piece.number} of task ${taskId} lies at offset ${piece.offset} with length ${piece.length}, not at offset ${asked.offset} with length ${asked.length}`, {
        fix: 'pass the piece bounds the piece was written with (pieceBounds() of the task length and piece length)',
      });
  }
  const checked = checkRange(taskId, piece, range ?? { start: 0, length: piece.length });
  if (checked.start + checked.length > written) {
    throw new D7yError('D7Y_INVALID_ARGUMENT',
      `range start ${checked.start} length ${checked.length} reaches past the ${written} bytes of piece ${piece.number} of task ${taskId} written so far`, {
        fix: 'read only bytes that onWritten of the piece write reported',
      });
  }
  return checked;
}
