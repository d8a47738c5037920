import { D7yError } from '../errors/d7y-error.js';
import { parseSize } from '../config/units.js';

export const MIB = 1024 * 1024;
export const MIN_PIECE_LENGTH = 4 * MIB;
export const MAX_PIECE_LENGTH = 64 * MIB;
/** Target maximum number of pieces of a task. */
export const TARGET_PIECE_COUNT = 500;

export interface PieceLengthLimits {
  min?: number;
  max?: number;
}

function nextPowerOfTwo(n: number): number {
  if (n <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(n));
}

/** Next power of two of floor(length / 500), clamped to [min, max] (4 MiB..64 MiB by default). */
export function pieceLengthFor(contentLength: number, limits: PieceLengthLimits = {}): number {
  const min = limits.min ?? MIN_PIECE_LENGTH;
  const max = limits.max ?? MAX_PIECE_LENGTH;
  const p = nextPowerOfTwo(Math.floor(contentLength / TARGET_PIECE_COUNT));
  return Math.min(max, Math.max(min, p));
}

/** Refuses a user-chosen piece length outside [min, max] with a message saying the bounds. */
export function validatePieceLength(value: number, limits: PieceLengthLimits = {}): number {
  const min = limits.min ?? MIN_PIECE_LENGTH;
  const max = limits.max ?? MAX_PIECE_LENGTH;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new D7yError('D7Y_INVALID_ARGUMENT',
      `piece length ${value} is out of range: it must be a whole number of bytes from ${min} to ${max}`, {
        fix: `choose a piece length between ${formatBytes(min)} and ${formatBytes(max)}, e.g. 4MiB`,
      });
  }
  return value;
}

export function pieceCount(contentLength: number, pieceLength: number): number {
  return contentLength === 0 ? 0 : Math.ceil(contentLength / pieceLength);
}

/** Offset and length of piece `n`. */
export function pieceBounds(n: number, contentLength: number, pieceLength: number): { offset: number; length: number } {
  const offset = n * pieceLength;
  return { offset, length: Math.max(0, Math.min(pieceLength, contentLength - offset)) };
}

/** Parses `4MiB`, `8388608`, `16MB` into bytes (the grammar of parseSize); D7Y_INVALID_ARGUMENT otherwise. */
export function parseByteSize(text: string, label?: string): number {
  return parseSize(text, { label });
}

export function formatBytes(n: number): string {
  if (n >= 1024 * MIB && n % (1024 * MIB) === 0) return `${n / (1024 * MIB)} GiB`;
  if (n >= MIB && n % MIB === 0) return `${n / MIB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}
