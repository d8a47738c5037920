import { pipeline, Transform, type Readable } from 'node:stream';
import type { SourceClient, SourceRequest } from '../../../contracts/source-client.js';
import type { PieceInput, StorageMedium } from '../../../contracts/storage-medium.js';
import { D7yError, isD7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { contentDigest, contentHasher } from '../../../task/content-hash.js';
import { pieceBounds } from '../../../task/piece-length.js';
import { streamPieceFeed } from '../../../task/stream-piece-feed.js';
import { runBounded } from './bounded.js';
import type { TokenBucket } from '../token-bucket.js';
import { TrafficType, type HeldPiece, type TaskState } from '../tasks/task-state.js';

/** Bytes the hashing pass-through holds before it pushes back: a few of the origin's read chunks. */
const PASS_THROUGH_HWM = 1024 * 1024;

/** Errors that another attempt at the same origin will not cure. */
const FINAL_CODES = new Set(['D7Y_SOURCE_NOT_FOUND', 'D7Y_SOURCE_AUTH', 'D7Y_SOURCE_RANGE_UNSUPPORTED',
  'D7Y_STORAGE_FULL', 'D7Y_ABORTED', 'D7Y_SOURCE_UNSUPPORTED_SCHEME', 'D7Y_INVALID_ARGUMENT', 'D7Y_TIMEOUT']);

export interface BackToSourceOptions {
  medium: StorageMedium;
  concurrency: number;
  limiter: TokenBucket;
  logger: Logger;
  /** Attempts per piece (default 3). */
  attempts?: number;
  /** Pieces are passed on to children as their bytes land (`peer.upload.cutThroughFromOrigin`). */
  cutThrough?: boolean;
}

/**
 * Fetches pieces from the origin through the URL scheme's SourceClient and writes them to the
 * medium at their offsets. Ranged requests per piece when the origin supports ranges, else one
 * stream cut into pieces; an origin without a length is streamed and its length learnt at the end.
 */
export class BackToSource {
  constructor(private readonly opts: BackToSourceOptions) {}

  /** Downloads `numbers` of a task whose length and piece length are recorded in `state`. */
  async pieces(state: TaskState, client: SourceClient, req: SourceRequest, supportsRange: boolean, numbers: number[],
    onPiece: (p: HeldPiece) => Promise<void> | void, signal: AbortSignal): Promise<void> {
    const len = state.contentLength!;
    if (!supportsRange) {
      const wanted = new Set(numbers);
      const dl = await client.download({ ...req, signal });
      await this.cut(state, guarded(dl.stream), state.pieceLength, (n) => wanted.has(n), onPiece, signal);
      return;
    }
    // The first piece alone, then the rest side by side: children can start on it (and pass it
    // on) while the others arrive, instead of all pieces of the first batch landing together.
    const fetchOne = async (n: number): Promise<void> => {
      const { offset, length } = pieceBounds(n, len, state.pieceLength);
      const attempts = this.opts.attempts ?? 3;
      for (let attempt = 1; ; attempt += 1) {
        const started = Date.now();
        // Children may stream the piece as its bytes land (cut-through from the origin). Its crc32
        // is not known before the last byte, so it is announced without one: children check the
        // trusted digest this peer reports once the piece is whole.
        const receiving = this.opts.cutThrough ? state.startReceiving({ number: n, offset, length, digest: '' }) : undefined;
        try {
          const dl = await client.download({ ...req, range: { start: offset, length }, signal });
          const rec = await this.write(state.taskId, { number: n, offset, length }, guarded(dl.stream), receiving && ((bytes) => receiving.advance(bytes)));
          this.opts.logger.debug({ taskId: state.taskId, piece: n, ms: Date.now() - started }, 'piece from the origin');
          await onPiece({ ...rec, trafficType: TrafficType.BackToSource, cost: Date.now() - started, createdAt: Date.now() });
          return;
        } catch (err) {
          const e = signal.aborted && !isD7yError(err) ? toD7yError(signal.reason, 'D7Y_ABORTED') : toD7yError(err, 'D7Y_SOURCE_ERROR');
          if (receiving) state.endReceiving(receiving, e);
          if (attempt >= attempts || FINAL_CODES.has(e.code) || signal.aborted) throw e;
          this.opts.logger.warn({ taskId: state.taskId, piece: n, attempt, err: e.message }, 'piece from the origin failed, retrying');
        }
      }
    };
    const [first, ...rest] = numbers;
    if (first === undefined) return;
    await runBounded([first], 1, fetchOne, signal);
    await runBounded(rest, this.opts.concurrency, fetchOne, signal);
  }

  /**
   * Streams the whole object (its length unknown) into pieces of `pieceLength`; resolves to the
   * content length. Each piece is held in memory only while it is written.
   */
  async streamed(state: TaskState, client: SourceClient, req: SourceRequest, pieceLength: number,
    onPiece: (p: HeldPiece) => Promise<void> | void, signal: AbortSignal): Promise<number> {
    const dl = await client.download({ ...req, signal });
    return this.cut(state, guarded(dl.stream), pieceLength, () => true, onPiece, signal);
  }

  private async cut(state: TaskState, stream: Readable, pieceLength: number, keep: (n: number) => boolean,
    onPiece: (p: HeldPiece) => Promise<void> | void, signal: AbortSignal): Promise<number> {
    let chunks: Buffer[] = [];
    let filled = 0;
    let number = 0;
    let offset = 0;
    let started = Date.now();
    const flush = async (): Promise<void> => {
      if (filled === 0) return;
      const data = Buffer.concat(chunks, filled);
      chunks = [];
      filled = 0;
      if (keep(number)) {
        const wait = this.opts.limiter.take(data.length);
        if (wait) await new Promise((r) => setTimeout(r, wait));
        const digest = contentDigest(data);
        const rec = await this.opts.medium.writePiece(state.taskId, { number, offset, length: data.length }, data, undefined, { contentDigest: () => digest });
        await onPiece({ ...rec, trafficType: TrafficType.BackToSource, cost: Date.now() - started, createdAt: Date.now() });
      }
      offset += data.length;
      number += 1;
      started = Date.now();
    };
    try {
      for await (const raw of stream) {
        let chunk = raw as Buffer;
        while (chunk.length > 0) {
          const take = Math.min(chunk.length, pieceLength - filled);
          chunks.push(chunk.subarray(0, take));
          filled += take;
          chunk = chunk.subarray(take);
          if (filled === pieceLength) await flush();
        }
        if (signal.aborted) throw toD7yError(signal.reason, 'D7Y_ABORTED');
      }
      await flush();
    } finally {
      stream.destroy();
    }
    return offset;
  }

  /** Writes a piece from the origin, with the content digest of its bytes (the trusted digest children check against). */
  private async write(taskId: string, piece: { number: number; offset: number; length: number }, body: Readable,
    onWritten?: (bytes: number) => void): Promise<HeldPiece> {
    const hasher = contentHasher();
    const tap = (chunk: Buffer): void => hasher.update(chunk);
    // Unpaced into a medium that takes feeds, the origin's chunks go to it directly, hashed on the way.
    const input: PieceInput = this.opts.limiter.unlimited && this.opts.medium.takesFeeds ? streamPieceFeed(body, { tap })
      : pipeline(body, this.opts.limiter.throttle(), new Transform({ highWaterMark: PASS_THROUGH_HWM, transform(chunk: Buffer, _enc, cb) { tap(chunk); cb(null, chunk); } }), () => undefined);
    try {
      const rec = await this.opts.medium.writePiece(taskId, piece, input, undefined, { contentDigest: () => hasher.digest(), onWritten });
      return { ...rec, createdAt: Date.now() };
    } catch (err) {
      body.destroy();
      throw toD7yError(err, 'D7Y_STORAGE_ERROR', `writing piece ${piece.number} of task ${taskId}`);
    }
  }
}

/**
 * An origin's body, kept from crashing the process when it fails (an abort, a broken connection)
 * before the medium starts reading it: the reader still sees the error, as the stream is errored.
 */
function guarded(body: Readable): Readable {
  body.on('error', () => undefined);
  return body;
}

export function abortError(signal: AbortSignal, what: string): D7yError {
  const reason = signal.reason as unknown;
  if (isD7yError(reason)) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new D7yError('D7Y_TIMEOUT', `${what} timed out`, { fix: 'raise --timeout, or check the origin and the swarm' });
  }
  return new D7yError('D7Y_ABORTED', `${what} was aborted`);
}
