import type { Logger } from '../../../logging/logger.js';
import type { AnnouncePeerIds, AnnouncePeerSession } from '../../../protocol/rpc/announce-peer-session.js';
import type { Download } from '../../../protocol/rpc/gen/common.js';
import type { AnnouncePeerResponse } from '../../../protocol/rpc/gen/scheduler.js';
import type { SchedulerClient } from '../../../protocol/rpc/scheduler-client.js';
import { TrafficType, type HeldPiece } from '../tasks/task-state.js';
import { DownloadTally } from './download-tally.js';
import { TrustedDigests } from './trusted-digests.js';

/**
 * Everything one download says to the scheduler, and the only place that says it: register,
 * started, pieces finished or failed, reschedules, back-to-source, the end. It follows the
 * download across scheduler failovers (a new announce stream on the next scheduler of the ring,
 * told at once which pieces this peer already holds) and keeps the download's tally, sent with
 * its last report. Reports are best effort: a lost report never fails the download.
 */
export class SchedulerConversation implements AsyncIterable<AnnouncePeerResponse> {
  readonly tally = new DownloadTally();
  /** The pieces' trusted digests the schedulers sent, kept across failovers. */
  readonly digests = new TrustedDigests();
  private session: AnnouncePeerSession;
  private readonly lost = new Set<string>();
  private readonly retried = new Set<string>();
  /** The scheduler was lost: the download goes on without one, nothing more is reported. */
  private detached = false;

  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly ids: AnnouncePeerIds,
    private readonly logger: Logger,
  ) {
    this.session = scheduler.announcePeer(ids);
  }

  /** The address of the scheduler spoken to now. */
  get address(): string {
    return this.session.address;
  }

  /** Registers the download; after a failover, also reports the pieces already held. */
  async register(download: Download, held: Iterable<HeldPiece>): Promise<void> {
    await this.session.register(download);
    this.logger.debug({ taskId: this.ids.taskId, peerId: this.ids.peerId, scheduler: this.address }, 'registered with the scheduler');
    if (this.tally.failovers === 0) return;
    for (const p of held) {
      this.quietly(this.session.pieceFinished({
        number: p.number, offset: p.offset, length: p.length, digest: p.contentDigest ?? p.digest, parentId: '',
        trafficType: TrafficType.LocalPeer, cost: 0, createdAt: p.createdAt,
      }));
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<AnnouncePeerResponse> {
    return this.session[Symbol.asyncIterator]();
  }

  started(): void {
    this.quietly(this.session.started());
  }

  reschedule(deadParentIds: string[], why: string): void {
    this.quietly(this.session.reschedule(deadParentIds, why));
  }

  /** A piece came from a parent. */
  pieceFinished(p: HeldPiece): void {
    this.tally.peerBytes += p.length;
    this.quietly(this.session.pieceFinished({
      number: p.number, parentId: p.parentId ?? '', offset: p.offset, length: p.length, digest: p.contentDigest ?? p.digest,
      trafficType: TrafficType.RemotePeer, cost: p.cost ?? 0, createdAt: p.createdAt,
    }));
  }

  /** A piece failed from a parent; `corrupt` when its bytes differed from the trusted digest (the scheduler blocks the parent for the task). */
  pieceFailed(n: number, parentId: string, corrupt = false): void {
    this.quietly(this.session.pieceFailed(n, parentId, true, corrupt));
  }

  /**
   * The scheduler spoken to did not know this host (it restarted and the host's next announce is
   * not due yet); the host was just announced to it again: a new stream to the same scheduler, so
   * the download stays with the task's other peers. Once per scheduler; false when already tried.
   */
  retrySame(reason: string): boolean {
    const from = this.session;
    if (this.retried.has(from.address)) return false;
    this.retried.add(from.address);
    from.cancel();
    this.session = this.scheduler.announcePeer(this.ids, { exclude: this.lost });
    this.logger.info({ taskId: this.ids.taskId, scheduler: this.session.address, reason }, 'the scheduler did not know this host; announced it and registering again');
    this.tally.absorb(from);
    this.tally.failovers += 1;
    return true;
  }

  /**
   * The scheduler spoken to is lost: moves to the next scheduler of the ring not yet lost.
   * Returns false when none is left (the download then goes on without a scheduler).
   */
  failover(reason: string): boolean {
    const from = this.session;
    this.lost.add(from.address);
    from.cancel();
    try {
      const next = this.scheduler.announcePeer(this.ids, { exclude: this.lost });
      this.logger.warn({ taskId: this.ids.taskId, from: from.address, to: next.address, reason }, 'scheduler lost; moving to the next one');
      this.tally.absorb(from);
      this.tally.failovers += 1;
      this.session = next;
      return true;
    } catch {
      this.detached = true;
      return false;
    }
  }

  /** The download failed before it could go back to the origin. */
  failed(message: string): void {
    if (!this.detached) this.quietly(this.session.failed(message, this.tally.stats(this.session)));
  }

  finished(contentLength: number, pieceCount: number): Promise<void> {
    return this.session.finished(contentLength, pieceCount, this.tally.stats(this.session)).catch(() => undefined);
  }

  /** No scheduler can be reached any more: nothing more is reported, and `close` cancels the stream. */
  detach(): void {
    this.detached = true;
  }

  /** The download goes back to the origin. */
  backToSourceStarted(reason: string): Promise<void> {
    this.tally.backToSource = true;
    return this.detached ? Promise.resolve() : this.session.backToSourceStarted(reason).catch(() => undefined);
  }

  /** A piece came from the origin. */
  backToSourcePiece(p: HeldPiece): void {
    this.tally.sourceBytes += p.length;
    if (this.detached) return;
    this.quietly(this.session.backToSourcePieceFinished({
      number: p.number, offset: p.offset, length: p.length, digest: p.contentDigest ?? p.digest, trafficType: TrafficType.BackToSource,
      cost: p.cost ?? 0, createdAt: p.createdAt,
    }));
  }

  backToSourceFailed(message: string): Promise<void> {
    return this.detached ? Promise.resolve() : this.session.backToSourceFailed(message, this.tally.stats(this.session)).catch(() => undefined);
  }

  backToSourceFinished(contentLength: number, pieceCount: number): Promise<void> {
    return this.detached ? Promise.resolve()
      : this.session.backToSourceFinished(contentLength, pieceCount, this.tally.stats(this.session)).catch(() => undefined);
  }

  /** Ends the conversation: half-closes the stream, or cancels it when the scheduler was lost. */
  close(): void {
    if (this.detached) this.session.cancel();
    else this.session.end();
  }

  private quietly(p: Promise<void>): void {
    p.catch(() => undefined);
  }
}
