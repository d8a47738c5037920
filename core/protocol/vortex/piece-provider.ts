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
  /**
   * The whole piece as a span of a plain file, for a server that sends with sendfile(2) on a plain
   * TCP connection; undefined when the piece is not kept so (the server calls `getPiece`). Rejects
   * as `getPiece` does.
   */
  getPieceFile?(req: PieceRequest): Promise<PieceFileSend | undefined>;
}

/** One piece sent from a file: where its bytes are, and the send's accounting. */
export interface PieceFileSend {
  meta: PieceContentMeta;
  /** The file's descriptor, valid until `end`. */
  fd: number;
  /** Where the piece's first byte is in the file. */
  position: number;
  /**
   * Resolves, once more than `at` bytes from the piece's start can be sent, to how many can (a
   * piece still arriving grows); rejects when its transfer fails or `signal` aborts.
   */
  ready(at: number, signal: AbortSignal): Promise<number>;
  /** Resolves once `bytes` more may go under the upload limit. */
  take(bytes: number): Promise<void>;
  /** The connection took `bytes` more. */
  sent(bytes: number): void;
  /** `cut` is called once if the send is cut for a reader that takes nothing (the server ends it and closes). */
  onCut(cut: () => void): void;
  /** The send ended (`ok`: every byte went); gives back the descriptor and the upload slot. Idempotent. */
  end(ok: boolean): void;
}
