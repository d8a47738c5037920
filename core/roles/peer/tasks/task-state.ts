import { EventEmitter } from 'node:events';
import type { PieceRecord, TaskRecord } from '../../../contracts/storage-medium.js';
import { D7yError } from '../../../errors/d7y-error.js';
import { pieceCount } from '../../../task/piece-length.js';
import { ReceivingPiece } from './receiving-piece.js';

/** Where a piece held by this peer came from (Dragonfly's TrafficType numbering). */
export const TrafficType = { BackToSource: 0, RemotePeer: 1, LocalPeer: 2 } as const;

/** A piece this peer holds, with its provenance when this daemon downloaded it. */
export interface HeldPiece extends PieceRecord {
  parentId?: string;
  trafficType?: number;
  /** Milliseconds the download of the piece took. */
  cost?: number;
  createdAt: number;
}

/** What a peer announces of a piece to its children: one it holds, or one whose first bytes it holds (still arriving). */
export type AnnouncedPiece = Pick<HeldPiece, 'number' | 'offset' | 'length' | 'digest'>;

/**
 * The in-memory view of one task on this peer: its record and the pieces held, loaded from the
 * storage medium once and kept in step with every write. Emits `piece` (HeldPiece) as pieces
 * land, `receiving` (ReceivingPiece) once the first bytes of a piece coming from a parent are
 * written (it can be passed on from then), `unreceived` (the piece number) when such a piece
 * failed before it was held, and `idle` when the running download ended.
 */
export class TaskState extends EventEmitter {
  record?: TaskRecord;
  readonly pieces = new Map<number, HeldPiece>();
  /** Pieces being received from parents, by number. */
  readonly receiving = new Map<number, ReceivingPiece>();
  /** The download bringing pieces right now, if any. */
  running?: Promise<void>;
  /** Set while the content length is unknown (origin without Content-Length, still streaming). */
  streaming = false;

  constructor(readonly taskId: string) {
    super();
    this.setMaxListeners(0);
  }

  get contentLength(): number | undefined {
    return this.record?.contentLength;
  }

  get pieceLength(): number {
    return this.record?.pieceLength ?? 0;
  }

  /** Number of pieces of the whole task, when the length is known. */
  get totalPieces(): number | undefined {
    const len = this.record?.contentLength;
    return len === undefined ? undefined : pieceCount(len, this.pieceLength);
  }

  get finished(): boolean {
    return this.record?.finished === true;
  }

  has(n: number): boolean {
    return this.pieces.has(n);
  }

  /** Records a piece that was written to the medium and tells the waiters. */
  addPiece(piece: HeldPiece): void {
    this.pieces.set(piece.number, piece);
    const receiving = this.receiving.get(piece.number);
    if (receiving) {
      this.receiving.delete(piece.number);
      receiving.finish();
    }
    this.emit('piece', piece);
  }

  /**
   * Starts tracking a piece coming from a parent with a known digest; `advance` the result as the
   * medium writes it (the first bytes announce it), `end` it when the write failed.
   */
  startReceiving(piece: { number: number; offset: number; length: number; digest: string }): ReceivingPiece {
    const r = new ReceivingPiece(piece.number, piece.offset, piece.length, piece.digest, (first) => {
      if (this.receiving.get(first.number) === first) this.emit('receiving', first);
    });
    this.receiving.get(piece.number)?.fail(new D7yError('D7Y_ABORTED', `piece ${piece.number} is being received again`));
    this.receiving.set(piece.number, r);
    return r;
  }

  /** Stops tracking a piece whose transfer failed; readers passing it on fail with `err`. */
  endReceiving(r: ReceivingPiece, err: unknown): void {
    if (this.receiving.get(r.number) !== r) return void r.fail(err);
    this.receiving.delete(r.number);
    r.fail(err);
    if (!this.pieces.has(r.number)) this.emit('unreceived', r.number);
  }

  /** A piece being received whose first bytes can be passed on already. */
  relayable(n: number): ReceivingPiece | undefined {
    const r = this.receiving.get(n);
    return r && r.written > 0 && !r.error ? r : undefined;
  }

  /** Bytes held, for progress reports. */
  heldBytes(): number {
    let n = 0;
    for (const p of this.pieces.values()) n += p.length;
    return n;
  }

  /**
   * Resolves when piece `n` is held; rejects when `signal` aborts (with its reason when it is a
   * D7yError). The caller aborts the signal when the download that was to bring the piece failed.
   */
  waitForPiece(n: number, signal: AbortSignal): Promise<HeldPiece> {
    const held = this.pieces.get(n);
    if (held) return Promise.resolve(held);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        this.off('piece', onPiece);
        signal.removeEventListener('abort', onAbort);
      };
      const onPiece = (p: HeldPiece): void => {
        if (p.number !== n) return;
        cleanup();
        resolve(p);
      };
      const onAbort = (): void => {
        cleanup();
        const reason = signal.reason as unknown;
        reject(reason instanceof D7yError ? reason
          : new D7yError('D7Y_ABORTED', `waiting for piece ${n} of task ${this.taskId} was aborted`));
      };
      if (signal.aborted) return onAbort();
      this.on('piece', onPiece);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Notes that no download runs any more. */
  idle(): void {
    this.running = undefined;
    this.emit('idle');
  }
}
