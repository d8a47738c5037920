import type { Readable } from 'node:stream';
import type { PieceContentMeta } from './piece-content-meta.js';
import type { PieceKind } from './vortex-tags.js';

/** A request for one piece, as a Vortex server received it. */
export interface PieceRequest {
  /** 64 lower-case hex characters. */
  taskId: string;
  number: number;
  kind: PieceKind;
}

/**
 * Where a VortexServer reads pieces from. `body` must yield exactly `meta.length` bytes; the
 * server destroys it if the connection goes away first. Reject with D7yError
 * 'D7Y_PIECE_NOT_FOUND' or 'D7Y_TASK_NOT_FOUND' when the piece is not here (the client sees
 * NotFound); any other rejection reaches the client as an internal error.
 */
export interface PieceProvider {
  /**
   * The piece's metadata and bytes. `recycle`, when given, takes back each chunk of `body` once the
   * server no longer needs it (written to the socket), so its buffer can be reused.
   */
  getPiece(req: PieceRequest): Promise<{ meta: PieceContentMeta; body: Readable; recycle?: (chunk: Buffer) => void }>;
}
