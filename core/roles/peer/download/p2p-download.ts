import { pipeline, type Readable } from 'node:stream';
import type { PieceFeed, StorageMedium } from '../../../contracts/storage-medium.js';
import { D7yError, isD7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { DfdaemonUploadClient } from '../../../protocol/rpc/dfdaemon-upload-client.js';
import type { Peer } from '../../../protocol/rpc/gen/common.js';
import { pieceBounds } from '../../../task/piece-length.js';
import { ParentSet, type Parent } from './parent-set.js';
import type { ReceivingPiece } from '../tasks/receiving-piece.js';
import type { TokenBucket } from '../token-bucket.js';
import type { SchedulerConversation } from './scheduler-conversation.js';
import { trustFailureOf, verifiedInput } from './verified-input.js';
import { TrafficType, type HeldPiece, type TaskState } from '../tasks/task-state.js';
import type { BackToSourceReason } from '../peer-metrics.js';

/** The part of VortexClient a download uses. */
export interface PieceFetcher {
  downloadPiece(addr: { host: string; port: number }, req: { taskId: string; number: number },
    opts?: { signal?: AbortSignal }): Promise<{ meta: { length: number; digest: string }; body: Readable }>;
  openPiece(addr: { host: string; port: number }, req: { taskId: string; number: number },
    opts?: { signal?: AbortSignal }): Promise<{ meta: { length: number; digest: string }; body: PieceFeed }>;
}

export interface P2PDownloadOptions {
  medium: StorageMedium;
  vortex: PieceFetcher;
  dfdaemon: DfdaemonUploadClient;
  limiter: TokenBucket;
  logger: Logger;
  hostId: string;
  concurrency: number;
  stallMs: number;
  maxReschedules: number;
  /** Milliseconds a piece waits for its trusted digest before the download goes back to the origin. */
  digestWaitMs: number;
  /** Milliseconds to wait for the scheduler's first answer. */
  firstAnswerMs?: number;
}

/** How a swarm download ended when it did not fail. */
export type P2POutcome = { kind: 'done' } | { kind: 'back-to-source'; reason: string; cause: BackToSourceReason; schedulerLost: boolean };

const REFRESH_MS = 1_000;
/** How long a child waits before asking a parent that was busy with a piece for it again. */
const BUSY_WAIT_MS = 250;
const MAX_REFRESHES = 20;
/** Live normal parents a download looks for (by asking the scheduler again) while much is missing. */
const WANTED_PARENTS = 8;
/** How often a download whose missing pieces are all in flight looks for one to move (endgame). */
const ENDGAME_CHECK_MS = 200;
/** Pieces of this download, newest last, whose durations make the typical one. */
const DURATION_SAMPLES = 16;
/** In the endgame, a piece with no byte landed after this long is moved whatever the typical piece takes. */
const NO_BYTES_MS = 2_000;

/** Times a piece whose bytes stopped coming is moved to another holder (see `rescue`). */
const MAX_RESCUES = 2;

/** A piece being fetched: from whom, since when, and how many of its bytes have landed (and when the last did). */
interface InFlightPiece {
  parent: Parent;
  ac: AbortController;
  done: Promise<void>;
  startedAt: number;
  landed: number;
  lastByteAt: number;
  /** Aborted to be fetched from another parent: not a failure of this one. */
  moved: boolean;
  /** The parent's answer came and its body began. */
  bodyStarted?: boolean;
}

/** A write failed for want of room: no other parent can cure it. */
export function isStorageFull(e: D7yError): boolean {
  return e.code === 'D7Y_STORAGE_FULL' || /ENOSPC|no space left/i.test(e.message);
}

/**
 * Downloads the missing pieces of one task from the parents the scheduler names: a SyncPieces
 * stream per parent says who holds what; pieces are fetched over Vortex, at most `concurrency`
 * at once, each from a parent picked by weighted random choice, crc32-checked by the medium,
 * retried elsewhere on failure (a parent whose connection goes quiet fails by the Vortex client's
 * read time-out) and reported to the scheduler; once every missing piece is in flight, a piece
 * stuck on a slow parent moves to an idle holder (endgame). A seed is asked only for pieces no
 * normal parent holds. When no parent can serve the missing pieces for `stallMs` it syncs again
 * with its seeds (a super-seeding seed then announces every piece asked for) and asks for a
 * reschedule; it returns `back-to-source` when the scheduler says so, when reschedules run out,
 * or when the scheduler is lost.
 */
export class P2PDownload {
  private readonly parents = new ParentSet();
  private readonly missing: Set<number>;
  /** The missing pieces in a random order, fixed for this download. */
  private readonly order: number[];
  private readonly inFlight = new Map<number, InFlightPiece>();
  /** Milliseconds the last pieces from normal parents took, newest last. */
  private readonly durations: number[] = [];
  /** Pieces already moved once to another parent. */
  private readonly moved = new Set<number>();
  /** Pieces moved because their bytes stopped coming, and how often. */
  private readonly rescued = new Map<number, number>();
  /** When a piece whose bytes stopped coming last made this download sync with its seeds again. */
  private seedsAskedAt = 0;
  /** A parent became unreachable since the last reschedule (see `unreachable`). */
  private lostParent = false;
  private endgameTimer?: NodeJS.Timeout;
  private readonly failedFor = new Map<number, Set<string>>();
  /** Parents that said they were busy with a piece, until when (ms): skipped until then (armBusyTimer forgets them). */
  private readonly busyFor = new Map<number, Map<string, number>>();
  private busyTimer?: NodeJS.Timeout;
  private settled = false;
  private started = false;
  private reschedules = 0;
  private refreshes = 0;
  private refreshTimer?: NodeJS.Timeout;
  private stallTimer?: NodeJS.Timeout;
  private firstTimer?: NodeJS.Timeout;
  private resolve!: (o: P2POutcome) => void;
  private reject!: (e: D7yError) => void;

  constructor(
    private readonly opts: P2PDownloadOptions,
    private readonly state: TaskState,
    private readonly session: SchedulerConversation,
    missing: number[],
    private readonly signal: AbortSignal,
  ) {
    this.missing = new Set(missing);
    this.order = shuffled(missing);
  }

  run(): Promise<P2POutcome> {
    const result = new Promise<P2POutcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    const onAbort = (): void => this.fail(toD7yError(this.signal.reason, 'D7Y_ABORTED'));
    this.signal.addEventListener('abort', onAbort, { once: true });
    this.firstTimer = setTimeout(() => this.settle({ kind: 'back-to-source', schedulerLost: true, cause: 'scheduler_lost',
      reason: `scheduler ${this.session.address} did not answer within ${this.opts.firstAnswerMs ?? 30_000} ms` }),
    this.opts.firstAnswerMs ?? 30_000);
    void this.readAnswers();
    return result.finally(() => {
      this.signal.removeEventListener('abort', onAbort);
      clearTimeout(this.firstTimer);
      clearTimeout(this.stallTimer);
    });
  }

  private async readAnswers(): Promise<void> {
    try {
      for await (const answer of this.session) {
        clearTimeout(this.firstTimer);
        const r = answer.response;
        if (!r || this.settled) continue;
        if (r.$case === 'normalTaskResponse') this.addParents(r.value.candidateParents);
        else if (r.$case === 'pieceDigestsResponse') this.session.digests.add(r.value.pieces);
        else if (r.$case === 'needBackToSourceResponse') {
          this.settle({ kind: 'back-to-source', schedulerLost: false, cause: 'no_parent', reason: r.value.description ?? 'the scheduler sent this peer to the origin' });
        } else if (r.$case === 'emptyTaskResponse') this.settle({ kind: 'done' });
      }
      if (!this.settled && this.missing.size > 0) {
        this.settle({ kind: 'back-to-source', schedulerLost: true, cause: 'scheduler_lost', reason: `scheduler ${this.session.address} closed the announce stream` });
      }
    } catch (err) {
      const e = toD7yError(err, 'D7Y_SCHEDULER_UNAVAILABLE');
      if (!this.settled) this.settle({ kind: 'back-to-source', schedulerLost: true, cause: 'scheduler_lost', reason: e.message });
    }
  }

  private addParents(peers: Peer[]): void {
    if (!this.started) {
      this.started = true;
      this.session.started();
    }
    this.opts.logger.debug({ taskId: this.state.taskId, parents: peers.map((p) => p.id), refreshes: this.refreshes }, 'candidate parents');
    for (const peer of peers) {
      const parent = this.parents.add(peer);
      if (parent) void this.sync(parent);
    }
    this.pump();
    this.planRefresh();
  }

  /**
   * With fewer than WANTED_PARENTS live normal parents and much left to fetch, asks the scheduler
   * again after a while: peers that started later hold pieces by then and can share the load.
   */
  private planRefresh(): void {
    if (this.refreshTimer || this.settled || this.refreshes >= MAX_REFRESHES || !this.wantsParents()) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      if (this.settled || !this.wantsParents()) return;
      this.refreshes += 1;
      this.session.reschedule(this.parents.deadIds(), 'looking for more parents');
    }, REFRESH_MS);
  }

  private wantsParents(): boolean {
    return this.missing.size > this.opts.concurrency && this.parents.live().filter((p) => !p.seed).length < WANTED_PARENTS;
  }

  private async sync(parent: Parent): Promise<void> {
    const ac = new AbortController();
    parent.sync = ac;
    parent.syncing = true;
    try {
      const stream = this.opts.dfdaemon.syncPieces({ host: parent.ip, port: parent.rpcPort },
        { taskId: this.state.taskId, interestedPieceNumbers: [...this.missing], hostId: this.opts.hostId }, { signal: ac.signal });
      for await (const info of stream) {
        parent.pieces.set(info.number, info);
        // Announced again after it failed a piece (it was passing it on and lost its own source): worth another try.
        this.failedFor.get(info.number)?.delete(parent.id);
        this.opts.logger.trace({ taskId: this.state.taskId, piece: info.number, parent: parent.id }, 'piece announced');
        if (this.missing.has(info.number)) this.pump();
      }
    } catch (err) {
      if (!ac.signal.aborted && !this.settled) {
        this.opts.logger.debug({ taskId: this.state.taskId, parent: parent.id, err: (err as Error).message }, 'piece sync with a parent ended');
        if (isD7yError(err, 'D7Y_PEER_UNAVAILABLE') && parent.sync === ac) this.unreachable(parent);
      }
    } finally {
      if (parent.sync === ac) parent.syncing = false;
    }
  }

  /**
   * A parent's piece sync broke because the parent cannot be reached (killed, its host gone): it is
   * dropped (the scheduler may offer it again), and when no other parent holds a missing piece and
   * nothing is in flight, the download asks for a reschedule now instead of after `stallMs`.
   */
  private unreachable(parent: Parent): void {
    this.parents.lost(parent);
    this.lostParent = true;
    if (!this.stallTimer || !this.stuckWithoutHolders()) return;
    clearTimeout(this.stallTimer);
    this.stalled();
  }

  /** A parent was lost since the last reschedule, nothing is in flight, and no live parent holds a missing piece. */
  private stuckWithoutHolders(): boolean {
    if (!this.lostParent || this.inFlight.size > 0 || this.missing.size === 0) return false;
    const live = this.parents.live();
    for (const n of this.missing) if (live.some((p) => p.pieces.has(n))) return false;
    return true;
  }

  private pump(): void {
    if (this.settled) return;
    if (this.missing.size === 0 && this.inFlight.size === 0) return this.settle({ kind: 'done' });
    if (this.inFlight.size < this.opts.concurrency) {
      for (const n of this.rarestFirst()) {
        if (this.inFlight.size >= this.opts.concurrency) break;
        const parent = this.parents.choose(n, this.failedFor.get(n), this.busyFor.get(n));
        if (parent) this.startPiece(n, parent);
      }
    }
    if (this.inFlight.size === 0 && this.missing.size > 0) {
      this.stallTimer ??= setTimeout(() => this.stalled(), this.stuckWithoutHolders() ? 0 : this.opts.stallMs);
    } else {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    }
    if (this.inFlight.size > 0 && this.inFlight.size >= this.missing.size) {
      this.endgameTimer ??= setTimeout(() => {
        this.endgameTimer = undefined;
        this.endgame();
      }, ENDGAME_CHECK_MS);
    }
  }

  /**
   * Endgame: every missing piece is in flight, so a slow parent holds up the whole download. A
   * piece from a normal parent that has no byte landed after NO_BYTES_MS, or that has taken half
   * as long again as a typical piece of this download and would still need longer than one at
   * the pace it goes, is fetched again from a normal holder this download has nothing in flight
   * from (once per piece; the slow parent is asked for it again only after the others, and is not
   * counted as failing). A piece whose bytes stopped coming is rescued (`rescue`).
   */
  private endgame(): void {
    if (this.settled || this.inFlight.size < this.missing.size) return;
    const sorted = [...this.durations].sort((a, b) => a - b);
    const typical = sorted[sorted.length >> 1];
    const now = Date.now();
    const quiet = new Set<string>();
    for (const f of this.inFlight.values()) if (now - f.lastByteAt >= this.opts.stallMs) quiet.add(f.parent.id);
    for (const [n, f] of this.inFlight) {
      if (f.parent.seed) continue;
      if (now - f.lastByteAt >= this.opts.stallMs) {
        this.rescue(n, f, quiet);
        continue;
      }
      if (this.moved.has(n)) continue;
      const elapsed = now - f.startedAt;
      if (!this.isSlow(n, f, elapsed, typical)) continue;
      const skip = new Set(this.failedFor.get(n));
      skip.add(f.parent.id);
      const other = this.parents.choose(n, skip, this.busyFor.get(n));
      if (!other || other.seed || other.inFlight > 0) continue;
      this.moved.add(n);
      f.moved = true;
      this.opts.logger.debug({ taskId: this.state.taskId, piece: n, from: f.parent.id, ms: elapsed, landed: f.landed, typicalMs: typical }, 'piece moved to an idle parent');
      // Marked busy for the piece, the slow parent is passed over while any other holder is free.
      this.parentBusy(n, f.parent, this.opts.stallMs);
      f.ac.abort(new D7yError('D7Y_ABORTED', `piece ${n} moved to a faster parent`));
    }
    this.pump();
  }

  /**
   * No byte of piece `n` came for `stallMs` (its parent's link went silent, or the parent passes it
   * on from one that did): it is fetched from another holder (a seed too, when no normal parent
   * but quiet ones holds it; seeds are synced with again so a super-seeding one announces it), at
   * most MAX_RESCUES times, instead of waiting out the read time-out. Quiet parents are not asked
   * for the piece again until they announce it anew, and are not counted as failing.
   */
  private rescue(n: number, f: InFlightPiece, quiet: Set<string>): void {
    const times = this.rescued.get(n) ?? 0;
    if (times >= MAX_RESCUES) return;
    // Parents with a quiet piece of their own are passed over: they may pass on what the silent one sent.
    const failed = new Set([...(this.failedFor.get(n) ?? []), ...quiet]);
    if (!this.parents.holder(n, failed)) {
      if (Date.now() - this.seedsAskedAt >= this.opts.stallMs) {
        this.seedsAskedAt = Date.now();
        this.resyncSeeds();
      }
      return;
    }
    this.rescued.set(n, times + 1);
    f.moved = true;
    this.failedFor.set(n, failed);
    this.opts.logger.debug({ taskId: this.state.taskId, piece: n, from: f.parent.id, landed: f.landed, quietMs: Date.now() - f.lastByteAt }, 'piece moved: its bytes stopped coming');
    f.ac.abort(new D7yError('D7Y_ABORTED', `piece ${n} moved: no byte from parent ${f.parent.id} for ${this.opts.stallMs} ms`));
  }

  /** Syncs with the seeds again: a super-seeding seed then announces every piece this download asks for. */
  private resyncSeeds(): void {
    for (const seed of this.parents.live().filter((p) => p.seed)) {
      seed.sync?.abort();
      void this.sync(seed);
    }
  }

  private isSlow(n: number, f: InFlightPiece, elapsed: number, typical: number | undefined): boolean {
    if (f.landed === 0) return elapsed >= Math.min(NO_BYTES_MS, 1.5 * (typical ?? Infinity));
    if (typical === undefined || elapsed < 1.5 * typical) return false;
    const { length } = pieceBounds(n, this.state.contentLength!, this.state.pieceLength);
    return ((length - f.landed) * elapsed) / f.landed > typical;
  }

  /**
   * Missing pieces not in flight that some usable parent holds, fewest holders first, ties in
   * this download's own random order: children that start together fetch different pieces
   * first and can then serve each other instead of all asking the same parent for the same piece.
   */
  private rarestFirst(): number[] {
    const live = this.parents.live();
    const held: [number, number][] = [];
    for (const n of this.order) {
      if (!this.missing.has(n) || this.inFlight.has(n)) continue;
      let holders = 0;
      for (const p of live) if (p.pieces.has(n)) holders += 1;
      if (holders > 0) held.push([n, holders]);
    }
    return held.sort((a, b) => a[1] - b[1]).map(([n]) => n);
  }

  /** A parent is busy with piece `n`: ask another holder, or this one again after `waitMs`. */
  private parentBusy(n: number, parent: Parent, waitMs = BUSY_WAIT_MS): void {
    const busy = this.busyFor.get(n) ?? new Map<string, number>();
    busy.set(parent.id, Date.now() + waitMs);
    this.busyFor.set(n, busy);
    this.armBusyTimer();
  }

  /** Forgets the busy marks whose wait is over, and pumps again when the earliest other one ends. */
  private armBusyTimer(): void {
    if (this.busyTimer || this.settled) return;
    const now = Date.now();
    let earliest = Infinity;
    for (const [n, busy] of this.busyFor) {
      for (const [id, until] of busy) {
        if (until <= now) busy.delete(id);
        else earliest = Math.min(earliest, until);
      }
      if (busy.size === 0) this.busyFor.delete(n);
    }
    if (earliest === Infinity) return;
    this.busyTimer = setTimeout(() => {
      this.busyTimer = undefined;
      this.armBusyTimer();
      this.pump();
    }, earliest - now);
  }

  private stalled(): void {
    this.stallTimer = undefined;
    if (this.settled || this.inFlight.size > 0) return;
    this.lostParent = false;
    if (this.reschedules >= this.opts.maxReschedules) {
      return this.settle({ kind: 'back-to-source', schedulerLost: false, cause: 'reschedules_exhausted',
        reason: `no parent could serve ${this.missing.size} piece(s) after ${this.reschedules} reschedule(s)` });
    }
    this.reschedules += 1;
    this.resyncSeeds();
    this.session.reschedule(this.parents.deadIds(), 'parents hold none of the missing pieces');
    this.pump();
  }

  private startPiece(n: number, parent: Parent): void {
    const f: InFlightPiece = { parent, ac: new AbortController(), done: Promise.resolve(), startedAt: Date.now(), landed: 0, lastByteAt: Date.now(), moved: false };
    parent.inFlight += 1;
    this.inFlight.set(n, f);
    f.done = this.fetchPiece(n, f).finally(() => {
      parent.inFlight -= 1;
      if (this.inFlight.get(n) === f) this.inFlight.delete(n);
      this.pump();
    });
  }

  private async fetchPiece(n: number, f: InFlightPiece): Promise<void> {
    const { parent, ac, startedAt } = f;
    const { offset, length } = pieceBounds(n, this.state.contentLength!, this.state.pieceLength);
    let receiving: ReceivingPiece | undefined;
    try {
      const { meta, body } = await this.openBody(parent, n, ac.signal);
      f.bodyStarted = true;
      if (meta.length !== length) {
        body.destroy();
        throw new D7yError('D7Y_PROTOCOL_ERROR', `parent ${parent.id} sent ${meta.length} bytes for piece ${n}, expected ${length}`);
      }
      // Empty when the parent is still receiving the piece from the origin (its crc32 comes last).
      const expected = parent.pieces.get(n)?.digest || meta.digest || undefined;
      // Passed on (cut-through) while it is written; children check it against the trusted digest as this peer does.
      receiving = this.state.startReceiving({ number: n, offset, length, digest: expected ?? '' });
      const r = receiving;
      // Checked against the trusted digest from the scheduler, never the parent's: a mismatch fails the write.
      const digests = this.session.digests;
      const verified = verifiedInput(body, digests.get(n), () => digests.wait(n, this.opts.digestWaitMs, ac.signal),
        `piece ${n} from parent ${parent.id}`);
      // The endgame reads `landed` whether or not the piece can be passed on.
      const rec = await this.opts.medium.writePiece(this.state.taskId, { number: n, offset, length }, verified.input, expected,
        { onWritten: (bytes) => { f.landed = bytes; f.lastByteAt = Date.now(); r?.advance(bytes); }, contentDigest: verified.contentDigest });
      this.missing.delete(n);
      const held: HeldPiece = { ...rec, parentId: parent.id, trafficType: TrafficType.RemotePeer, cost: Date.now() - startedAt, createdAt: Date.now() };
      if (!parent.seed) {
        this.durations.push(held.cost!);
        if (this.durations.length > DURATION_SAMPLES) this.durations.shift();
      }
      this.opts.logger.debug({ taskId: this.state.taskId, piece: n, parent: parent.id, ms: held.cost, missing: this.missing.size }, 'piece from a parent');
      this.state.addPiece(held);
      this.session.pieceFinished(held);
    } catch (err) {
      const e = toD7yError(err, 'D7Y_PEER_UNAVAILABLE');
      if (receiving) this.state.endReceiving(receiving, e);
      if (this.settled) return;
      if (this.signal.aborted) return this.fail(toD7yError(this.signal.reason, 'D7Y_ABORTED'));
      if (f.moved) return;
      if (isStorageFull(e)) return this.fail(e);
      const trust = trustFailureOf(e);
      if (trust === 'corrupt') return this.corrupt(n, parent, e);
      if (trust === 'unverified') {
        return this.settle({ kind: 'back-to-source', schedulerLost: false, cause: 'no_trusted_digest',
          reason: `no trusted digest for piece ${n} from scheduler ${this.session.address} within ${this.opts.digestWaitMs} ms` });
      }
      if (e.code === 'D7Y_RATE_LIMITED') {
        this.opts.logger.trace({ taskId: this.state.taskId, piece: n, parent: parent.id }, 'parent busy with the piece');
        return this.parentBusy(n, parent);
      }
      if (e.code === 'D7Y_PIECE_NOT_FOUND' && this.parents.lostAnnounced(parent, n)) {
        this.opts.logger.debug({ taskId: this.state.taskId, piece: n, parent: parent.id }, 'parent no longer holds a piece it announced');
        return;
      }
      const failed = this.failedFor.get(n) ?? new Set<string>();
      failed.add(parent.id);
      this.failedFor.set(n, failed);
      const upstream = f.bodyStarted === true && e.code === 'D7Y_PEER_UNAVAILABLE' && this.parents.lostUpstream(parent);
      if (!upstream && this.parents.failed(parent)) this.opts.logger.warn({ taskId: this.state.taskId, parent: parent.id }, 'parent dropped after repeated failures');
      this.opts.logger.debug({ taskId: this.state.taskId, piece: n, parent: parent.id, err: e.message }, 'piece from a parent failed');
      this.session.pieceFailed(n, parent.id);
    }
  }

  /**
   * A parent sent bytes that differ from the piece's trusted digest: it is dropped from this
   * download at once, reported to the scheduler (which blocks it for the task), and the piece is
   * fetched from another holder.
   */
  private corrupt(n: number, parent: Parent, e: D7yError): void {
    const failed = this.failedFor.get(n) ?? new Set<string>();
    failed.add(parent.id);
    this.failedFor.set(n, failed);
    this.parents.block(parent);
    this.opts.logger.warn({ taskId: this.state.taskId, piece: n, parent: parent.id, host: parent.hostId, ...e.details }, 'parent sent a corrupt piece; blocked for the task');
    this.session.pieceFailed(n, parent.id, true);
  }

  /**
   * The piece's bytes from a parent. Unthrottled, a medium that takes feeds copies them straight off
   * the connection's read buffer; otherwise they come as a stream, paced by the download limit.
   */
  private async openBody(parent: Parent, n: number, signal: AbortSignal): Promise<{ meta: { length: number; digest: string }; body: PieceFeed | Readable }> {
    const addr = { host: parent.ip, port: parent.uploadPort };
    const req = { taskId: this.state.taskId, number: n };
    if (this.opts.limiter.unlimited && this.opts.medium.takesFeeds) return this.opts.vortex.openPiece(addr, req, { signal });
    const { meta, body } = await this.opts.vortex.downloadPiece(addr, req, { signal });
    // The medium reads the body and sees its error; this listener only keeps an error raised
    // before the medium starts reading (an abort mid-piece) from being unhandled.
    body.on('error', () => undefined);
    return { meta, body: this.opts.limiter.unlimited ? body : pipeline(body, this.opts.limiter.throttle(), () => undefined) };
  }

  private fail(err: D7yError): void {
    if (this.settled) return;
    this.settled = true;
    this.stop().finally(() => this.reject(err));
  }

  private settle(outcome: P2POutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.stop().finally(() => this.resolve(outcome));
  }

  private async stop(): Promise<void> {
    this.parents.close();
    clearTimeout(this.stallTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.busyTimer);
    clearTimeout(this.endgameTimer);
    for (const f of this.inFlight.values()) f.ac.abort(new D7yError('D7Y_ABORTED', 'the download moved on'));
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.done));
  }
}

function shuffled(xs: number[]): number[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
