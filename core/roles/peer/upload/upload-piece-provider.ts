import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { PieceRecord, StorageMedium } from '../../../contracts/storage-medium.js';
import { D7yError } from '../../../errors/d7y-error.js';
import { BUSY_PREFIX } from '../../../protocol/vortex/vortex-error-codes.js';
import type { PieceContentMeta, PieceFileSend, PieceProvider, PieceRequest } from '../../../protocol/vortex/index.js';
import type { SeedOffers } from './seed-offers.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import { relayedPiece } from './relayed-piece.js';
import type { ReceivingPiece } from '../tasks/receiving-piece.js';
import { TrafficType } from '../tasks/task-state.js';
import type { TokenBucket } from '../token-bucket.js';
import { StalledSend, type StallLimits } from './stalled-send.js';
import type { UploadSlots } from './upload-slots.js';
import type { UploadStats } from './upload-stats.js';

/**
 * Serves this peer's pieces to other peers (Vortex and the HTTP piece endpoint): looks the piece
 * up in the task's state, waits for an upload slot, reads it from the medium, paces it through
 * the upload limit and counts it in the upload stats the scheduler ranks this host by. A piece
 * still arriving from a parent is passed on as its bytes are written (cut-through). With
 * `childrenPerPiece`, a whole-piece request beyond that many sends of the same piece at once is
 * refused as busy (BUSY_PREFIX), so the child asks another holder. With `stall`, a send whose
 * reader takes nothing for `slotReleaseMs` gives its slot to the next child, and one that takes
 * nothing for `cutMs` is cut: its body fails with D7Y_TIMEOUT and the server closes the connection.
 */
export class UploadPieceProvider implements PieceProvider {
  constructor(
    private readonly tasks: TaskCatalog,
    private readonly medium: StorageMedium,
    private readonly limiter: TokenBucket,
    private readonly stats: UploadStats,
    private readonly peerId: () => string,
    private readonly offers?: SeedOffers,
    private readonly slots?: UploadSlots,
    private readonly childrenPerPiece = 0,
    private readonly stall?: StallLimits,
  ) {}

  private draining = false;

  /** From now on every piece request is refused as busy (the child asks another holder); sends under way go on. */
  refuseNew(): void {
    this.draining = true;
  }

  /** Whole-piece sends under way, by `taskId/number`. */
  private readonly sending = new Map<string, number>();

  /** Counts a whole-piece send of `key`; the returned function (idempotent) uncounts it. */
  private share(key: string, req: Pick<PieceRequest, 'taskId' | 'number'>): () => void {
    const now = this.sending.get(key) ?? 0;
    if (now >= this.childrenPerPiece) {
      throw new D7yError('D7Y_RATE_LIMITED', `${BUSY_PREFIX}piece ${req.number} of task ${req.taskId} is being sent to ${now} peers already; ask another holder`);
    }
    this.sending.set(key, now + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.sending.get(key) ?? 1) - 1;
      if (left > 0) this.sending.set(key, left);
      else this.sending.delete(key);
    };
  }

  /**
   * The piece (held, or still arriving: cut-through), its share of the children and its upload
   * slot, and what opens its bytes; refused as busy while the peer drains.
   */
  private async open<T>(req: Pick<PieceRequest, 'taskId' | 'number'>, range: { start: number; length: number } | undefined,
    read: (piece: PieceRecord | undefined, receiving: ReceivingPiece | undefined) => Promise<T>) {
    if (this.draining) throw new D7yError('D7Y_RATE_LIMITED', `${BUSY_PREFIX}this peer is shutting down; ask another holder`);
    const state = await this.tasks.find(req.taskId);
    if (!state) throw new D7yError('D7Y_TASK_NOT_FOUND', `task ${req.taskId} is not on this peer`);
    const piece = state.pieces.get(req.number);
    const receiving = piece || !this.medium.readWritten ? undefined : state.relayable(req.number);
    if (!piece && !receiving) throw new D7yError('D7Y_PIECE_NOT_FOUND', `piece ${req.number} of task ${req.taskId} is not on this peer`);
    const unshare = this.childrenPerPiece > 0 && !range ? this.share(`${req.taskId}/${req.number}`, req) : () => undefined;
    let release: () => void = unshare;
    let slot: () => void = () => undefined;
    let source: T;
    try {
      slot = this.slots ? await this.slots.acquire() : slot;
      release = () => { slot(); unshare(); };
      source = await read(piece, receiving);
    } catch (err) {
      release();
      throw err;
    }
    const bounds = piece ?? receiving!;
    const meta: PieceContentMeta = {
      number: bounds.number, offset: bounds.offset, length: range?.length ?? bounds.length, digest: bounds.digest,
      parentId: this.peerId(), trafficType: TrafficType.RemotePeer, cost: Math.round((piece?.cost ?? 0) / 1000),
      createdAt: Math.floor((piece?.createdAt ?? Date.now()) / 1000),
    };
    return { source, meta, release, slot, receiving };
  }

  async getPiece(req: Pick<PieceRequest, 'taskId' | 'number'>, range?: { start: number; length: number }): Promise<{ meta: PieceContentMeta; body: Readable; recycle?: (chunk: Buffer) => void }> {
    const { source, meta, release, slot } = await this.open(req, range, (piece, receiving) => (piece
      ? this.medium.readPiece(req.taskId, req.number, range)
      : relayedPiece(this.medium, req.taskId, receiving!, range ?? { start: 0, length: receiving!.length })));
    this.stats.begin();
    let sent = 0;
    const limiter = this.limiter;
    const stats = this.stats;
    let watch: StalledSend | undefined;
    // Object mode: chunks pass as they are, so the medium's pooled buffers can be given back.
    const counted = new Transform({
      objectMode: true,
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        sent += chunk.length;
        stats.record(chunk.length);
        watch?.progress();
        const wait = limiter.take(chunk.length);
        if (wait === 0) return cb(null, chunk);
        watch?.throttle(true);
        setTimeout(() => { watch?.throttle(false); cb(null, chunk); }, wait);
      },
    });
    if (this.stall) {
      const limits = this.stall;
      // Not a stall: nothing ready for the reader, or the reader took a chunk since the last look
      // (the last chunks of a piece wait here on a slow link after the source gave everything).
      let left = -1;
      const readerMoving = (): boolean => {
        const now = counted.readableLength;
        const moved = now < left;
        left = now;
        return now === 0 || moved;
      };
      watch = new StalledSend(limits, readerMoving, slot, () => counted.destroy(new D7yError('D7Y_TIMEOUT',
        `piece ${req.number} of task ${req.taskId}: the child read nothing for ${limits.cutMs} ms; upload cut`)));
    }
    let ended = false;
    const offers = this.offers;
    const end = (ok: boolean): void => {
      if (ended) return;
      ended = true;
      watch?.stop();
      release();
      stats.end(ok, sent);
      if (!range) offers?.uploaded(req.taskId, req.number, ok);
    };
    counted.on('end', () => end(sent === meta.length));
    counted.on('close', () => { end(false); source.destroy(); });
    pipeline(source, counted, () => undefined);
    return { meta, body: counted, recycle: source.recycle?.bind(source) };
  }

  /**
   * The whole piece as a span of the medium's file (see PieceProvider.getPieceFile), with the same
   * share, slot, upload limit, stats and stall watch as `getPiece`; undefined when the medium keeps
   * no plain file for it.
   */
  async getPieceFile(req: Pick<PieceRequest, 'taskId' | 'number'>): Promise<PieceFileSend | undefined> {
    const medium = this.medium;
    // Asked before the slot: a send that must read the piece as a stream waits for a slot once.
    if (!medium.fileSpan || medium.keepsPlainFile?.(req.taskId) === false) return undefined;
    const { source: file, meta, release, slot, receiving } = await this.open(req, undefined, (piece, r) => {
      const bounds = piece ?? r!;
      return medium.fileSpan!(req.taskId, { number: bounds.number, offset: bounds.offset, length: bounds.length }, { start: 0, length: bounds.length });
    });
    if (!file) {
      release();
      return undefined;
    }
    this.stats.begin();
    const { limiter, stats, offers } = this;
    let sent = 0;
    let waiting = false;
    let cut: () => void = () => undefined;
    const watch = this.stall
      ? new StalledSend(this.stall, () => waiting, slot, () => cut())
      : undefined;
    let ended = false;
    return {
      meta, fd: file.fd, position: file.position,
      async ready(at: number, signal: AbortSignal): Promise<number> {
        waiting = true;
        try {
          for (;;) {
            if (!receiving) return meta.length;
            if (receiving.error) throw receiving.error;
            const ready = receiving.done ? meta.length : receiving.written;
            if (ready > at) return ready;
            await receiving.more(at, signal);
          }
        } finally {
          waiting = false;
        }
      },
      async take(bytes: number): Promise<void> {
        stats.record(bytes);
        const wait = limiter.take(bytes);
        if (wait === 0) return;
        watch?.throttle(true);
        await new Promise((resolve) => setTimeout(resolve, wait));
        watch?.throttle(false);
      },
      sent(bytes: number): void {
        sent += bytes;
        watch?.progress();
      },
      onCut(fn: () => void): void {
        cut = fn;
      },
      end(ok: boolean): void {
        if (ended) return;
        ended = true;
        watch?.stop();
        file.release();
        release();
        stats.end(ok && sent === meta.length, sent);
        offers?.uploaded(req.taskId, req.number, ok && sent === meta.length);
      },
    };
  }
}
