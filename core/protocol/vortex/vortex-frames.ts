import { D7yError } from '../../errors/d7y-error.js';
import { isTaskId } from '../../task/task-id.js';
import { encodePieceContentMeta } from './piece-content-meta.js';
import type { PieceContentMeta } from './piece-content-meta.js';
import { vortexContentTagOf, VORTEX_HEADER_LENGTH, VORTEX_REQUEST_VALUE_LENGTH, vortexRequestTagOf, VORTEX_TASK_ID_LENGTH, VortexTag } from './vortex-tags.js';
import type { PieceKind, VortexErrorCode } from './vortex-tags.js';

/**
 * A random packet id (u8), as Vortex senders choose them. It only pairs a response with its
 * request on one connection (connections are authenticated by the cluster credential, not by
 * it), so Math.random serves: crypto's randomInt cost more than the rest of a request's encoding.
 */
export function randomVortexPacketId(): number {
  return Math.floor(Math.random() * 256);
}

/** One frame: header `packet id u8 | tag u8 | length u32 BE` followed by `value`. */
export function encodeVortexFrame(packetId: number, tag: number, value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(VORTEX_HEADER_LENGTH + value.length);
  out.writeUInt8(packetId & 0xff, 0);
  out.writeUInt8(tag, 1);
  out.writeUInt32BE(value.length, 2);
  out.set(value, VORTEX_HEADER_LENGTH);
  return out;
}

/** A download-piece request (tag 0, 2, 4 or 6 by kind): 64 hex task id + u32 piece number. */
export function encodeDownloadPieceFrame(
  packetId: number,
  req: { taskId: string; number: number; kind?: PieceKind },
): Buffer {
  if (!isTaskId(req.taskId)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `task id "${req.taskId.slice(0, 80)}" is not ${VORTEX_TASK_ID_LENGTH} lower-case hex characters`, {
      fix: 'pass the task id d7y computed for the download (sha256 hex)',
    });
  }
  if (!Number.isInteger(req.number) || req.number < 0 || req.number > 0xffffffff) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `piece number ${req.number} is not an integer in 0..4294967295`, {
      fix: 'pass the number of a piece of the task',
    });
  }
  const value = Buffer.allocUnsafe(VORTEX_REQUEST_VALUE_LENGTH);
  value.write(req.taskId, 0, VORTEX_TASK_ID_LENGTH, 'latin1');
  value.writeUInt32BE(req.number, VORTEX_TASK_ID_LENGTH);
  return encodeVortexFrame(packetId, vortexRequestTagOf(req.kind ?? 'standard'), value);
}

/**
 * The piece-content frame (tag 1, 3, 5 or 7 by kind). Its length covers only the metadata;
 * the sender writes exactly `meta.length` raw bytes right after it.
 */
export function encodePieceContentFrame(packetId: number, kind: PieceKind, meta: PieceContentMeta): Buffer {
  return encodeVortexFrame(packetId, vortexContentTagOf(kind), encodePieceContentMeta(meta));
}

/** Bytes of a message kept in an error frame; longer messages are cut at a character boundary. */
export const VORTEX_MAX_ERROR_MESSAGE_BYTES = 4096;

function truncateUtf8(message: string, max: number): Buffer {
  const full = Buffer.from(message, 'utf8');
  if (full.length <= max) return full;
  let end = max;
  while (end > 0 && (full[end] & 0xc0) === 0x80) end--;
  return full.subarray(0, end);
}

/** An error frame (tag 255): u8 code, then the UTF-8 message (at most VORTEX_MAX_ERROR_MESSAGE_BYTES). */
export function encodeErrorFrame(packetId: number, code: VortexErrorCode, message: string): Buffer {
  const text = truncateUtf8(message, VORTEX_MAX_ERROR_MESSAGE_BYTES);
  const value = Buffer.allocUnsafe(1 + text.length);
  value.writeUInt8(code, 0);
  text.copy(value, 1);
  return encodeVortexFrame(packetId, VortexTag.Error, value);
}

/** A close frame (tag 254, empty value). */
export function encodeCloseFrame(packetId: number): Buffer {
  return encodeVortexFrame(packetId, VortexTag.Close, Buffer.alloc(0));
}

/** A server's handshake challenge (tag 253): the random nonce the client must answer. */
export function encodeAuthChallengeFrame(nonce: Buffer): Buffer {
  return encodeVortexFrame(0, VortexTag.AuthChallenge, nonce);
}

/** A client's handshake answer (tag 252): its proof of the cluster key for the server's nonce. */
export function encodeAuthProofFrame(proof: Buffer): Buffer {
  return encodeVortexFrame(0, VortexTag.AuthProof, proof);
}
