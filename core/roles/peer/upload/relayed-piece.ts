import { Readable } from 'node:stream';
import type { PieceReadable, StorageMedium } from '../../../contracts/storage-medium.js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { ReceivingPiece } from '../tasks/receiving-piece.js';

/** Why a relay stops waiting for more bytes: its stream closed (one reason shared by all, so a close builds no error). */
const RELAY_CLOSED = new D7yError('D7Y_ABORTED', 'the relay of the piece was closed');

/**
 * `range` of a piece this peer is still receiving, read from the medium as its bytes are written
 * and waiting for more as needed (cut-through relay): the stream ends once the range is sent,
 * fails when the piece's own transfer fails, and stops waiting when destroyed. A medium that
 * follows a piece being written (`followWritten`) gives one stream for it all; otherwise each
 * batch written is read in turn with `readWritten`. Chunks are the medium's; `recycle` gives each
 * back to the read that lent it.
 */
export async function relayedPiece(medium: StorageMedium, taskId: string, r: ReceivingPiece, range: { start: number; length: number }): Promise<PieceReadable> {
  const followed = await medium.followWritten?.(taskId, { number: r.number, offset: r.offset, length: r.length }, range, r);
  if (followed) return followed;
  const end = range.start + range.length;
  const ac = new AbortController();
  const lenders = new WeakMap<Buffer, (chunk: Buffer) => void>();
  const piece = { number: r.number, offset: r.offset, length: r.length };
  async function* segments(): AsyncGenerator<Buffer> {
    let at = range.start;
    while (at < end) {
      if (r.error) throw r.error;
      const ready = r.done ? end : Math.min(r.written, end);
      if (ready <= at) {
        await r.more(at, ac.signal);
        continue;
      }
      const segment = await medium.readWritten!(taskId, piece, { start: at, length: ready - at });
      try {
        for await (const chunk of segment) {
          const b = chunk as Buffer;
          at += b.length;
          if (segment.recycle) lenders.set(b, segment.recycle.bind(segment));
          yield b;
        }
      } finally {
        segment.destroy();
      }
    }
  }
  const stream = Readable.from(segments());
  stream.once('close', () => ac.abort(RELAY_CLOSED));
  return Object.assign(stream, { recycle: (chunk: Buffer) => lenders.get(chunk)?.(chunk) });
}
