import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pieceBuffers, type PieceReadable } from '../../core/index.js';
import { inlineIo } from './inline-io.js';

/**
 * `length` bytes of an open file from `position`, read into pooled buffers (inline while the page
 * cache answers, see InlineIo), one read ahead. The
 * stream calls `release` (the handle's owner closes or keeps it) when it ends or is destroyed. A consumer done with a chunk may give it
 * back with `recycle` (a socket writer does, once the kernel has the bytes).
 */
export function pooledFileRange(handle: FileHandle, position: number, length: number, release: () => void): PieceReadable {
  let at = position;
  const end = position + length;
  const stream = new Readable({
    highWaterMark: pieceBuffers.size,
    read() {
      const want = Math.min(pieceBuffers.size, end - at);
      if (want <= 0) {
        stream.push(null);
        return;
      }
      const b = pieceBuffers.take();
      const got = (bytesRead: number): void => {
        if (bytesRead === 0) {
          pieceBuffers.give(b);
          stream.destroy(Object.assign(new Error(`file ended ${end - at} bytes early`), { code: 'EIO' }));
          return;
        }
        at += bytesRead;
        stream.push(bytesRead === b.length ? b : b.subarray(0, bytesRead));
      };
      const failed = (err: Error): void => {
        pieceBuffers.give(b);
        stream.destroy(err);
      };
      if (inlineIo.inline) {
        let bytesRead: number;
        try {
          bytesRead = inlineIo.read(handle.fd, b, want, at);
        } catch (err) {
          failed(err as Error);
          return;
        }
        got(bytesRead);
        return;
      }
      handle.read(b, 0, want, at).then(({ bytesRead }) => got(bytesRead), failed);
    },
    destroy(err, cb) {
      release();
      cb(err);
    },
  });
  return Object.assign(stream, { recycle: (chunk: Buffer) => pieceBuffers.give(chunk) });
}
