import type { Readable } from 'node:stream';
import { Crc32, D7yError, isPieceFeed, streamPieceFeed } from '../../core/index.js';
import type { PieceFeed, PieceInput, PieceRecord, WritePieceOptions } from '../../core/index.js';

/**
 * Receives each chunk of a piece in order; may return a promise (back-pressure: the next chunk waits
 * for it). A chunk of a PieceFeed is valid only during the call: a sink that keeps bytes copies them.
 */
export type ChunkSink = (chunk: Buffer, position: number) => void | Promise<void>;

/**
 * Feeds a piece's bytes (a Buffer, a PieceFeed, or a Readable read to its end) to `sink` with their position
 * inside the piece, computing the crc32 on the way. Rejects with D7Y_INVALID_ARGUMENT when the
 * input has more or fewer bytes than `length`, and with the stream's own error when it fails; a
 * stream is destroyed when the sink or a check fails. Resolves with `crc32:<n>`. A stream is read
 * as a feed (see streamPieceFeed): chunk by chunk as it was pushed, paused while the sink's write
 * is pending.
 */
export async function consumePiece(data: PieceInput, length: number, what: string, sink: ChunkSink): Promise<string> {
  const crc = new Crc32();
  if (Buffer.isBuffer(data)) {
    checkLength(data.length, length, what);
    crc.update(data);
    if (data.length > 0) await sink(data, 0);
    return crc.digest();
  }
  return consumeFeed(isPieceFeed(data) ? data : streamPieceFeed(data, { what }), length, what, sink, crc);
}

async function consumeFeed(feed: PieceFeed, length: number, what: string, sink: ChunkSink, crc: Crc32): Promise<string> {
  let position = 0;
  try {
    await feed.pipe((chunk) => {
      if (position + chunk.length > length) checkLength(position + chunk.length, length, what);
      crc.update(chunk);
      const at = position;
      position += chunk.length;
      return sink(chunk, at);
    });
    checkLength(position, length, what);
  } catch (err) {
    feed.destroy(err as Error);
    throw err;
  }
  return crc.digest();
}

/** Gives up on an input that will not be read (a stream or feed is destroyed, with `err` when given). */
export function abandonInput(data: PieceInput, err?: Error): void {
  if (Buffer.isBuffer(data)) return;
  if (isPieceFeed(data)) data.destroy(err);
  else data.on('error', () => undefined).destroy(err);
}

/** Reads and discards a piece input, returning its digest and length checks as consumePiece does. */
export function drainPiece(data: PieceInput, length: number, what: string): Promise<string> {
  return consumePiece(data, length, what, () => undefined);
}

function checkLength(got: number, want: number, what: string): void {
  if (got !== want) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${what}: expected ${want} bytes, got ${got > want ? 'more than ' : ''}${got}`, {
      fix: 'the source sent a different number of bytes than the piece length; download the piece again',
    });
  }
}

/** Rejects with D7Y_DIGEST_MISMATCH when `expected` is given and differs from `actual`. */
export function checkDigest(actual: string, expected: string | undefined, what: string): void {
  if (expected !== undefined && expected !== actual) {
    throw new D7yError('D7Y_DIGEST_MISMATCH', `${what}: digest ${actual} does not match the expected ${expected}`, {
      fix: 'the piece was corrupted in transit or by its parent; download it again from another peer',
    });
  }
}

/** The record of a piece just stored, with its content digest when the writer gives one. */
export function storedRecord(piece: Omit<PieceRecord, 'digest'>, digest: string, opts: WritePieceOptions | undefined): PieceRecord {
  const contentDigest = opts?.contentDigest?.();
  return { number: piece.number, offset: piece.offset, length: piece.length, digest, ...(contentDigest && { contentDigest }) };
}
