import { D7yError } from '../../errors/d7y-error.js';
import { isTaskId } from '../../task/task-id.js';
import { decodePieceContentMeta, VORTEX_MIN_CONTENT_VALUE_LENGTH } from './piece-content-meta.js';
import type { PieceContentMeta } from './piece-content-meta.js';
import { VORTEX_NONCE_LENGTH, VORTEX_PROOF_LENGTH } from '../auth/cluster-auth.js';
import {
  VORTEX_HEADER_LENGTH, isVortexContentTag, isVortexRequestTag, pieceKindOfTag, VORTEX_REQUEST_VALUE_LENGTH, VORTEX_TASK_ID_LENGTH, VortexTag,
} from './vortex-tags.js';
import type { PieceKind, VortexErrorCode } from './vortex-tags.js';

/** What the decoder recognised in the bytes pushed so far, in wire order. */
export type VortexEvent =
  | { type: 'request'; packetId: number; tag: number; kind: PieceKind; taskId: string; number: number }
  | { type: 'piece'; packetId: number; tag: number; kind: PieceKind; meta: PieceContentMeta }
  /** Raw piece bytes following a `piece` event; `chunk` is a view of the pushed buffer, not a copy. */
  | { type: 'body'; chunk: Buffer }
  /** All `meta.length` raw bytes of the last `piece` have been delivered (also sent for empty pieces). */
  | { type: 'body-end' }
  | { type: 'close'; packetId: number }
  /** The server's handshake challenge (clients). */
  | { type: 'challenge'; packetId: number; nonce: Buffer }
  /** The client's answer to the challenge (servers). */
  | { type: 'auth'; packetId: number; proof: Buffer }
  | { type: 'error'; packetId: number; code: VortexErrorCode; message: string }
  /** The bytes broke the protocol; always the last event, and every later push returns it again. */
  | { type: 'malformed'; error: D7yError };

export interface VortexDecoderOptions {
  /**
   * Which frames the side accepts: a server takes 'requests' (download, close, error), a client
   * takes 'responses' (piece content, close, error). Default 'all'.
   */
  accept?: 'requests' | 'responses' | 'all';
  /** Largest value of a piece-content, error or close frame, in bytes. Default 64 KiB. */
  maxValueLength?: number;
}

interface Header { packetId: number; tag: number; length: number }

const EMPTY = Buffer.alloc(0);

/**
 * Incremental Vortex decoder: push TCP chunks of any size, get the frames they complete.
 * Never buffers more than one frame value (bounded by `maxValueLength`, copied, so a pushed
 * buffer may be reused once `push` returns); raw piece bytes pass through as views. A malformed frame ends the events with `malformed` (a D7Y_PROTOCOL_ERROR),
 * after the frames that preceded it; the decoder stays failed.
 */
export class VortexDecoder {
  private readonly accept: 'requests' | 'responses' | 'all';
  private readonly maxValueLength: number;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private header: Header | undefined;
  private bodyRemaining = 0;
  private failure: D7yError | undefined;

  constructor(options: VortexDecoderOptions = {}) {
    this.accept = options.accept ?? 'all';
    this.maxValueLength = options.maxValueLength ?? 64 * 1024;
  }

  /** True when no partial frame and no piece body is outstanding. */
  get atFrameBoundary(): boolean {
    return this.header === undefined && this.pendingLength === 0 && this.bodyRemaining === 0;
  }

  /** Raw piece bytes still expected for the current piece. */
  get bodyBytesRemaining(): number {
    return this.bodyRemaining;
  }

  /**
   * Counts `bytes` raw bytes of the current piece's body that the caller read itself (at most
   * `bodyBytesRemaining`); true once the body is whole.
   */
  skipBody(bytes: number): boolean {
    if (this.failure || bytes > this.bodyRemaining) throw new Error(`${bytes} body bytes read past the ${this.bodyRemaining} expected`);
    this.bodyRemaining -= bytes;
    return this.bodyRemaining === 0;
  }

  /** True once a malformed frame was seen. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Decodes as much of `chunk` (plus earlier leftovers) as forms whole frames. Never throws. */
  push(chunk: Buffer): VortexEvent[] {
    if (this.failure) return [{ type: 'malformed', error: this.failure }];
    const events: VortexEvent[] = [];
    try {
      this.consume(chunk, events);
    } catch (err) {
      this.failure = err instanceof D7yError ? err : new D7yError('D7Y_PROTOCOL_ERROR', String(err), { cause: err });
      this.pending = [];
      this.pendingLength = 0;
      events.push({ type: 'malformed', error: this.failure });
    }
    return events;
  }

  private consume(data: Buffer, events: VortexEvent[]): void {
    let off = 0;
    while (off < data.length) {
      if (this.bodyRemaining > 0) {
        const take = Math.min(this.bodyRemaining, data.length - off);
        events.push({ type: 'body', chunk: data.subarray(off, off + take) });
        off += take;
        this.bodyRemaining -= take;
        if (this.bodyRemaining === 0) events.push({ type: 'body-end' });
        continue;
      }
      const need = this.header ? this.header.length : VORTEX_HEADER_LENGTH;
      let piece: Buffer;
      if (this.pendingLength === 0 && data.length - off >= need) {
        piece = data.subarray(off, off + need);
        off += need;
      } else {
        const take = Math.min(need - this.pendingLength, data.length - off);
        // A copy: the pushed buffer may be reused for the next read.
        this.pending.push(Buffer.from(data.subarray(off, off + take)));
        this.pendingLength += take;
        off += take;
        if (this.pendingLength < need) return;
        piece = Buffer.concat(this.pending, this.pendingLength);
        this.pending = [];
        this.pendingLength = 0;
      }
      if (this.header === undefined) {
        const header = this.parseHeader(piece);
        if (header.length === 0) this.finish(header, EMPTY, events);
        else this.header = header;
      } else {
        const header = this.header;
        this.header = undefined;
        this.finish(header, piece, events);
      }
    }
  }

  private parseHeader(bytes: Buffer): Header {
    const header = { packetId: bytes.readUInt8(0), tag: bytes.readUInt8(1), length: bytes.readUInt32BE(2) };
    const { tag, length } = header;
    if (isVortexRequestTag(tag)) {
      if (this.accept === 'responses') throw malformed(`unexpected download request (tag ${tag}) from a server`);
      if (length !== VORTEX_REQUEST_VALUE_LENGTH) {
        throw malformed(`download request value is ${length} bytes, expected ${VORTEX_REQUEST_VALUE_LENGTH}`);
      }
    } else if (isVortexContentTag(tag)) {
      if (this.accept === 'requests') throw malformed(`unexpected piece content (tag ${tag}) from a client`);
      if (length < VORTEX_MIN_CONTENT_VALUE_LENGTH || length > this.maxValueLength) {
        throw malformed(`piece metadata is ${length} bytes, expected ${VORTEX_MIN_CONTENT_VALUE_LENGTH}..${this.maxValueLength}`);
      }
    } else if (tag === VortexTag.Error) {
      if (length < 1 || length > this.maxValueLength) {
        throw malformed(`error frame value is ${length} bytes, expected 1..${this.maxValueLength}`);
      }
    } else if (tag === VortexTag.Close) {
      if (length > this.maxValueLength) throw malformed(`close frame value is ${length} bytes`);
    } else if (tag === VortexTag.AuthChallenge) {
      if (this.accept === 'requests') throw malformed('unexpected auth challenge (tag 253) from a client');
      if (length !== VORTEX_NONCE_LENGTH) throw malformed(`auth challenge is ${length} bytes, expected ${VORTEX_NONCE_LENGTH}`);
    } else if (tag === VortexTag.AuthProof) {
      if (this.accept === 'responses') throw malformed('unexpected auth proof (tag 252) from a server');
      if (length !== VORTEX_PROOF_LENGTH) throw malformed(`auth proof is ${length} bytes, expected ${VORTEX_PROOF_LENGTH}`);
    } else {
      throw malformed(`unknown tag ${tag}`);
    }
    return header;
  }

  private finish(header: Header, value: Buffer, events: VortexEvent[]): void {
    const { packetId, tag } = header;
    if (isVortexRequestTag(tag)) {
      const taskId = value.toString('latin1', 0, VORTEX_TASK_ID_LENGTH);
      if (!isTaskId(taskId)) throw malformed(`task id is not ${VORTEX_TASK_ID_LENGTH} lower-case hex characters`);
      events.push({ type: 'request', packetId, tag, kind: pieceKindOfTag(tag), taskId, number: value.readUInt32BE(VORTEX_TASK_ID_LENGTH) });
    } else if (isVortexContentTag(tag)) {
      const meta = decodePieceContentMeta(value);
      events.push({ type: 'piece', packetId, tag, kind: pieceKindOfTag(tag), meta });
      this.bodyRemaining = meta.length;
      if (meta.length === 0) events.push({ type: 'body-end' });
    } else if (tag === VortexTag.Error) {
      const raw = value.readUInt8(0);
      const code = (raw <= 3 ? raw : 0) as VortexErrorCode;
      events.push({ type: 'error', packetId, code, message: value.toString('utf8', 1) });
    } else if (tag === VortexTag.AuthChallenge) {
      events.push({ type: 'challenge', packetId, nonce: Buffer.from(value) });
    } else if (tag === VortexTag.AuthProof) {
      events.push({ type: 'auth', packetId, proof: Buffer.from(value) });
    } else {
      events.push({ type: 'close', packetId });
    }
  }
}

function malformed(reason: string): D7yError {
  return new D7yError('D7Y_PROTOCOL_ERROR', `malformed Vortex frame: ${reason}`, {
    fix: 'the remote end speaks a different Vortex version or is broken; check its version',
  });
}
