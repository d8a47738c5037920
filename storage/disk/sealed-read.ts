import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pieceBuffers, type PieceReadable } from '../../core/index.js';
import type { PieceOpener, UnsealedReader } from './piece-cipher.js';

/**
 * The plain bytes `range` of a sealed piece stored at `offset` (`pieceLength` bytes) of an open
 * content file, as a stream: the whole piece is read through one pooled buffer and decrypted slice
 * by slice; the slices within the range flow on as they are decrypted, except the last one, which
 * is held until the whole piece is authenticated (`opener.check`). A piece changed on disk thus
 * fails the stream before its end: a reader never sees a complete range of wrong bytes. `notFound`
 * is the error for a file that ends before the piece; `failure` maps a read error. `release` runs
 * once the file is no longer read.
 */
export function sealedRange(handle: FileHandle, opener: PieceOpener, piece: { offset: number; length: number }, range: { start: number; length: number },
  release: () => void, errors: { notFound: () => Error; failure: (err: unknown) => Error }): PieceReadable {
  const end = range.start + range.length;
  async function* plain(): AsyncGenerator<Buffer> {
    const b = pieceBuffers.take();
    let at = 0;
    let held: Buffer | undefined;
    try {
      while (at < piece.length) {
        const bytesRead = await handle.read(b, 0, Math.min(b.length, piece.length - at), piece.offset + at)
          .then((r) => r.bytesRead, (err: unknown) => { throw errors.failure(err); });
        if (bytesRead === 0) throw errors.notFound();
        for (const slice of opener.update(b.subarray(0, bytesRead))) {
          const from = Math.max(range.start - at, 0);
          const to = Math.min(end - at, slice.length);
          at += slice.length;
          if (to <= from) continue;
          if (held) yield held;
          held = to - from === slice.length ? slice : slice.subarray(from, to);
        }
      }
    } finally {
      pieceBuffers.give(b);
      release();
    }
    opener.check();
    if (held) yield held;
  }
  return Readable.from(plain(), { objectMode: false });
}

/** Deciphers each chunk of `ciphertext` (a stream of pooled chunks, given back with `recycle`) as it comes. */
export async function* unsealedChunks(ciphertext: AsyncIterable<unknown> & { recycle?: (chunk: Buffer) => void }, reader: UnsealedReader): AsyncGenerator<Buffer> {
  for await (const chunk of ciphertext) {
    const plain = reader.update(chunk as Buffer);
    ciphertext.recycle?.(chunk as Buffer);
    yield* plain;
  }
}
