import { D7yError } from '../../errors/d7y-error.js';

/** Which store a piece is read from; each kind has its own request tag and content tag. */
export type PieceKind = 'standard' | 'persistent' | 'persistent-cache' | 'cache';

/**
 * Frame tags of the Vortex protocol. 0–7, 254 and 255 are Dragonfly's; 252 and 253 are d7y's
 * connection handshake of a server with a cluster credential (before any request, never between
 * pieces): the server's challenge (253: a 32-byte random nonce) and the client's proof (252:
 * HMAC-SHA256 of the nonce under the cluster key). Values 8–251 are reserved and refused.
 */
export const VortexTag = {
  DownloadPiece: 0,
  PieceContent: 1,
  DownloadPersistentPiece: 2,
  PersistentPieceContent: 3,
  DownloadPersistentCachePiece: 4,
  PersistentCachePieceContent: 5,
  DownloadCachePiece: 6,
  CachePieceContent: 7,
  AuthProof: 252,
  AuthChallenge: 253,
  Close: 254,
  Error: 255,
} as const;

/** Codes carried by an error frame. */
export const VortexErrorCode = {
  Unknown: 0,
  InvalidArgument: 1,
  NotFound: 2,
  Internal: 3,
} as const;
export type VortexErrorCode = (typeof VortexErrorCode)[keyof typeof VortexErrorCode];

/** Size of a frame header: packet id u8, tag u8, length u32 BE. */
export const VORTEX_HEADER_LENGTH = 6;
/** Length of a task id on the wire: 64 ASCII hex characters. */
export const VORTEX_TASK_ID_LENGTH = 64;
/** Value length of every download-piece request: task id + u32 piece number. */
export const VORTEX_REQUEST_VALUE_LENGTH = VORTEX_TASK_ID_LENGTH + 4;

const KINDS: readonly PieceKind[] = ['standard', 'persistent', 'persistent-cache', 'cache'];

/** The download request tag (0, 2, 4, 6) of a piece kind. */
export function vortexRequestTagOf(kind: PieceKind): number {
  const index = KINDS.indexOf(kind);
  if (index < 0) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${String(kind)}" is not a piece kind`, {
      fix: `use one of ${KINDS.join(', ')}`,
    });
  }
  return index * 2;
}

/** The piece content tag (1, 3, 5, 7) of a piece kind. */
export function vortexContentTagOf(kind: PieceKind): number {
  return vortexRequestTagOf(kind) + 1;
}

/** True for tags 0, 2, 4, 6. */
export function isVortexRequestTag(tag: number): boolean {
  return tag <= 6 && tag % 2 === 0;
}

/** True for tags 1, 3, 5, 7. */
export function isVortexContentTag(tag: number): boolean {
  return tag <= 7 && tag % 2 === 1;
}

/** The piece kind of a request or content tag (0–7). */
export function pieceKindOfTag(tag: number): PieceKind {
  const kind = KINDS[tag >> 1];
  if (tag > 7 || kind === undefined) {
    throw new D7yError('D7Y_PROTOCOL_ERROR', `Vortex tag ${tag} names no piece kind`);
  }
  return kind;
}
