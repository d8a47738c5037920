import type { StorageMedium } from '../../../contracts/storage-medium.js';
import { algorithmOf, canHash, contentHasher, type ContentHasher } from '../../../task/content-hash.js';
import { Crc32 } from '../../../task/piece-digest.js';
import type { TaskState } from './task-state.js';

/**
 * Reads every held piece of the task back from the medium and returns the numbers of those whose
 * bytes no longer match their recorded crc32, or their content digest where one was recorded
 * (and this process can compute it); a piece that cannot be read counts as bad. Each chunk goes
 * back to the medium once hashed, so a task of any size is read through a buffer or two.
 */
export async function corruptPieces(medium: StorageMedium, state: TaskState): Promise<number[]> {
  const bad: number[] = [];
  for (const piece of [...state.pieces.values()].sort((a, b) => a.number - b.number)) {
    const crc = new Crc32();
    const content: ContentHasher | undefined = piece.contentDigest && canHash(algorithmOf(piece.contentDigest))
      ? contentHasher(algorithmOf(piece.contentDigest) as 'blake3' | 'sha256') : undefined;
    try {
      const body = await medium.readPiece(state.taskId, piece.number);
      for await (const chunk of body) {
        crc.update(chunk as Buffer);
        content?.update(chunk as Buffer);
        // Hashed and not kept: the medium's pooled buffer serves the next read.
        body.recycle?.(chunk as Buffer);
      }
    } catch {
      bad.push(piece.number);
      continue;
    }
    if (crc.digest() !== piece.digest || (content && content.digest() !== piece.contentDigest)) bad.push(piece.number);
  }
  return bad;
}
