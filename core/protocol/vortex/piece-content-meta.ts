import { D7yError } from '../../errors/d7y-error.js';

/**
 * What a parent says about a piece it is about to send. Integers only; `offset`, `length`
 * and `cost` are non-negative safe integers, `createdAt` is a safe integer.
 */
export interface PieceContentMeta {
  /** Piece number within the task (u32). */
  number: number;
  /** Byte offset of the piece within the task's content. */
  offset: number;
  /** Number of raw piece bytes that follow the frame. */
  length: number;
  /** Piece digest, e.g. `crc32:3735928559`. */
  digest: string;
  /** Id of the peer the piece was downloaded from ('' when it came from the origin). */
  parentId: string;
  /** Traffic type (u8), as recorded by the sender. */
  trafficType: number;
  /** Time the sender spent getting the piece, in seconds. */
  cost: number;
  /** When the sender stored the piece, unix seconds. */
  createdAt: number;
}

/** Bytes of the metadata without the digest and parent id strings. */
const FIXED_LENGTH = 4 + 8 + 8 + 4 + 4 + 1 + 8 + 8;
/** Smallest possible piece-content frame value: the u32 metadata length plus the fixed fields. */
export const VORTEX_MIN_CONTENT_VALUE_LENGTH = 4 + FIXED_LENGTH;

function invalid(field: string, value: unknown, expected: string): D7yError {
  return new D7yError('D7Y_INVALID_ARGUMENT', `piece metadata field ${field} is ${String(value)}, expected ${expected}`, {
    fix: 'pass the piece metadata the storage recorded for this piece',
  });
}

function checkUnsigned(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw invalid(field, value, `an integer in 0..${max}`);
}

/**
 * The value of a piece-content frame: u32 metadata length, then number u32, offset u64,
 * length u64, digest (u32 length + UTF-8), parent id (u32 length + UTF-8), traffic type u8,
 * cost u64, created at i64; all big-endian. The raw piece bytes are not part of it.
 */
export function encodePieceContentMeta(meta: PieceContentMeta): Buffer {
  checkUnsigned('number', meta.number, 0xffffffff);
  checkUnsigned('offset', meta.offset, Number.MAX_SAFE_INTEGER);
  checkUnsigned('length', meta.length, Number.MAX_SAFE_INTEGER);
  checkUnsigned('trafficType', meta.trafficType, 0xff);
  checkUnsigned('cost', meta.cost, Number.MAX_SAFE_INTEGER);
  if (!Number.isSafeInteger(meta.createdAt)) throw invalid('createdAt', meta.createdAt, 'a safe integer');
  const digest = Buffer.from(meta.digest, 'utf8');
  const parentId = Buffer.from(meta.parentId, 'utf8');
  const metadataLength = FIXED_LENGTH + digest.length + parentId.length;
  const out = Buffer.allocUnsafe(4 + metadataLength);
  let at = out.writeUInt32BE(metadataLength, 0);
  at = out.writeUInt32BE(meta.number, at);
  at = out.writeBigUInt64BE(BigInt(meta.offset), at);
  at = out.writeBigUInt64BE(BigInt(meta.length), at);
  at = out.writeUInt32BE(digest.length, at);
  at += digest.copy(out, at);
  at = out.writeUInt32BE(parentId.length, at);
  at += parentId.copy(out, at);
  at = out.writeUInt8(meta.trafficType, at);
  at = out.writeBigUInt64BE(BigInt(meta.cost), at);
  out.writeBigInt64BE(BigInt(meta.createdAt), at);
  return out;
}

function malformed(reason: string): D7yError {
  return new D7yError('D7Y_PROTOCOL_ERROR', `malformed Vortex piece metadata: ${reason}`, {
    fix: 'the remote peer speaks a different Vortex version or is broken; download the piece from another parent',
  });
}

function safe(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw malformed(`${field} ${value} is beyond 2^53`);
  }
  return Number(value);
}

/** Parses the value of a piece-content frame; throws D7Y_PROTOCOL_ERROR unless it is exactly one metadata record. */
export function decodePieceContentMeta(value: Buffer): PieceContentMeta {
  if (value.length < VORTEX_MIN_CONTENT_VALUE_LENGTH) throw malformed(`${value.length} bytes is too short`);
  const metadataLength = value.readUInt32BE(0);
  if (metadataLength !== value.length - 4) {
    throw malformed(`metadata length ${metadataLength} does not match the frame (${value.length - 4} bytes)`);
  }
  let at = 4;
  const number = value.readUInt32BE(at); at += 4;
  const offset = safe(value.readBigUInt64BE(at), 'offset'); at += 8;
  const length = safe(value.readBigUInt64BE(at), 'length'); at += 8;
  const digestLength = value.readUInt32BE(at); at += 4;
  if (digestLength > value.length - FIXED_LENGTH - 4) throw malformed(`digest length ${digestLength} overruns the metadata`);
  const digest = value.toString('utf8', at, at + digestLength); at += digestLength;
  const parentIdLength = value.readUInt32BE(at); at += 4;
  if (at + parentIdLength + 17 !== value.length) throw malformed(`parent id length ${parentIdLength} does not fit the metadata`);
  const parentId = value.toString('utf8', at, at + parentIdLength); at += parentIdLength;
  const trafficType = value.readUInt8(at); at += 1;
  const cost = safe(value.readBigUInt64BE(at), 'cost'); at += 8;
  const createdAt = safe(value.readBigInt64BE(at), 'createdAt');
  return { number, offset, length, digest, parentId, trafficType, cost, createdAt };
}
