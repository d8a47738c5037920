import type { ByteRange } from '../../../contracts/source-client.js';
import { D7yError } from '../../../errors/d7y-error.js';
import { pieceBounds } from '../../../task/piece-length.js';

/** One piece a byte range touches, and the part of it (relative to the piece) that the range needs. */
export interface PieceSpan {
  number: number;
  offset: number;
  length: number;
  sub: { start: number; length: number };
}

/** The pieces covering `range` (the whole object when omitted), in order. */
export function pieceSpans(contentLength: number, pieceLength: number, range?: ByteRange): PieceSpan[] {
  const start = range?.start ?? 0;
  const end = range ? range.start + range.length : contentLength;
  const spans: PieceSpan[] = [];
  if (end <= start) return spans;
  for (let n = Math.floor(start / pieceLength); n * pieceLength < end; n += 1) {
    const { offset, length } = pieceBounds(n, contentLength, pieceLength);
    const s = Math.max(start, offset) - offset;
    const e = Math.min(end, offset + length) - offset;
    spans.push({ number: n, offset, length, sub: { start: s, length: e - s } });
  }
  return spans;
}

/** Clamps an open-ended range to the content and refuses one that starts past the end. */
export function clampRange(range: ByteRange | undefined, contentLength: number): ByteRange | undefined {
  if (!range) return undefined;
  if (range.start >= contentLength) {
    throw new D7yError('D7Y_INVALID_ARGUMENT',
      `range starts at byte ${range.start}, but the object has only ${contentLength} bytes`, {
        fix: `ask for bytes below ${contentLength}, e.g. --range 0-${Math.max(0, contentLength - 1)}`,
      });
  }
  return { start: range.start, length: Math.min(range.length, contentLength - range.start) };
}
