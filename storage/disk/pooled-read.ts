import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { D7yError, pieceBuffers, type PieceReadable, type WrittenProgress } from '../../core/index.js';
import { inlineIo } from './inline-io.js';

/** The progress of a piece already held: every byte is there. */
const HELD: WrittenProgress = { written: Number.MAX_SAFE_INTEGER, done: true, error: undefined, more: () => Promise.resolve() };

/**
 * `length` bytes of an open file from `position`, read into pooled buffers (inline while the page
 * cache answers, see InlineIo), one read ahead. The stream calls `release` (the handle's owner
 * closes or keeps it) when it ends or is destroyed. A consumer done with a chunk may give it back
 * with `recycle` (a socket writer does, once the kernel has the bytes).
 */
export function pooledFileRange(handle: FileHandle, position: number, length: number, release: () => void): PieceReadable {
  return followedFileRange(handle, 0, position, length, HELD, release);
}

/** Why a follower stops waiting for more bytes: it was destroyed (one reason shared by all, so a close builds no error). */
const FOLLOW_CLOSED = new D7yError('D7Y_ABORTED', 'the reader of the piece being written was closed');

/**
 * `length` bytes from `start` of a piece at `pieceOffset` of an open file while the piece is being
 * written there (or once it is held): each read takes at most the bytes `progress` says are
 * written (up to one pooled buffer, inline while the page cache answers), waits for more while
 * there are none, and fails with the write's error. One stream and one handle for the whole range, however many batches
 * the writer lands. `release` is called when the stream ends or is destroyed.
 */
export function followedFileRange(handle: FileHandle, pieceOffset: number, start: number, length: number,
  progress: WrittenProgress, release: () => void): PieceReadable {
  let at = start;
  const end = start + length;
  // Made only when the reader first catches up with the writer (never for a held piece).
  let ac: AbortController | undefined;
  const stream = new Readable({
    highWaterMark: pieceBuffers.size,
    read: () => pull(),
    destroy(err, cb) {
      ac?.abort(FOLLOW_CLOSED);
      release();
      cb(err);
    },
  });
  const failed = (err: Error): void => {
    if (!stream.destroyed) stream.destroy(err);
  };
  const pull = (): void => {
    if (at >= end) {
      stream.push(null);
      return;
    }
    if (progress.error) return failed(progress.error);
    const ready = progress.done ? end : Math.min(progress.written, end);
    if (ready <= at) {
      progress.more(at, (ac ??= new AbortController()).signal).then(() => { if (!stream.destroyed) pull(); }, failed);
      return;
    }
    const want = Math.min(pieceBuffers.size, ready - at);
    const b = pieceBuffers.take();
    const got = (bytesRead: number): void => {
      if (stream.destroyed) {
        pieceBuffers.give(b);
        return;
      }
      if (bytesRead === 0) {
        pieceBuffers.give(b);
        failed(Object.assign(new Error(`file ended ${end - at} bytes early`), { code: 'EIO' }));
        return;
      }
      at += bytesRead;
      stream.push(bytesRead === b.length ? b : b.subarray(0, bytesRead));
    };
    const position = pieceOffset + at;
    if (inlineIo.inline) {
      let bytesRead: number;
      try {
        bytesRead = inlineIo.read(handle.fd, b, want, position);
      } catch (err) {
        pieceBuffers.give(b);
        failed(err as Error);
        return;
      }
      got(bytesRead);
      return;
    }
    handle.read(b, 0, want, position).then(({ bytesRead }) => got(bytesRead), (err: Error) => {
      pieceBuffers.give(b);
      failed(err);
    });
  };
  return Object.assign(stream, { recycle: (chunk: Buffer) => pieceBuffers.give(chunk) });
}
