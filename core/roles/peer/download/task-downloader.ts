import { randomUUID } from 'node:crypto';
import type { SourceClient, SourceRequest, SourceStat } from '../../../contracts/source-client.js';
import type { StorageMedium } from '../../../contracts/storage-medium.js';
import type { PeerConfig } from '../../../config/peer-config.js';
import { D7yError, isD7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { DfdaemonUploadClient } from '../../../protocol/rpc/dfdaemon-upload-client.js';
import type { Download } from '../../../protocol/rpc/gen/common.js';
import type { AnnouncePeerIds, AnnouncePeerSession } from '../../../protocol/rpc/announce-peer-session.js';
import type { SchedulerClient } from '../../../protocol/rpc/scheduler-client.js';
import type { SourceRouter } from '../../../registry/source-router.js';
import { pieceCount, pieceLengthFor, validatePieceLength, MAX_PIECE_LENGTH } from '../../../task/piece-length.js';
import { taskId as computeTaskId } from '../../../task/task-id.js';
import { BackToSource, abortError } from './back-to-source.js';
import type { PeerDownloadRequest } from '../../../protocol/local-api/download-request.js';
import { P2PDownload, isStorageFull, type PieceFetcher } from './p2p-download.js';
import { clampRange, pieceSpans } from '../tasks/piece-span.js';
import { TokenBucket } from '../token-bucket.js';
import { DownloadTally } from './download-tally.js';
import { TaskState, TrafficType, type HeldPiece } from '../tasks/task-state.js';

export interface TaskManagerOptions {
  config: PeerConfig;
  medium: StorageMedium;
  sources: SourceRouter;
  scheduler?: SchedulerClient;
  vortex: PieceFetcher;
  dfdaemon: DfdaemonUploadClient;
  logger: Logger;
  hostId: string;
  /** `{ip}-{hostname}` prefix of peer ids (`-seed` is appended for seed peers). */
  peerIdPrefix: string;
  /** Puts a new task in the storage medium its download names (`options.storage`); rejects when that medium is not loaded. */
  placeTask?: (taskId: string, medium: string) => Promise<void>;
}

/** What `ensure` found or fetched. */
export interface EnsureResult {
  state: TaskState;
  localHit: boolean;
  range?: { start: number; length: number };
}

/** The most task states kept in memory besides running ones. */
const MAX_IDLE_STATES = 1024;

/**
 * Owns the tasks of this peer: the in-memory view of each (loaded from the medium), and the one
 * download per task that brings missing pieces — from the swarm through the scheduler, or from the
 * origin. Concurrent requests for one task share that download.
 */
export class TaskManager {
  private readonly states = new Map<string, TaskState>();
  private readonly stats = new Map<string, Promise<SourceStat>>();
  private readonly b2s: BackToSource;
  readonly downloadLimiter: TokenBucket;

  constructor(private readonly opts: TaskManagerOptions) {
    this.downloadLimiter = new TokenBucket(opts.config.download.rateLimit);
    this.b2s = new BackToSource({ medium: opts.medium, concurrency: opts.config.download.concurrency, limiter: this.downloadLimiter, logger: opts.logger });
  }

  taskIdOf(req: PeerDownloadRequest): string {
    return computeTaskId({ url: this.contentKeyOf(req.url), tag: req.tag, application: req.application, pieceLength: req.pieceLength, filteredQueryParams: req.filteredQueryParams });
  }

  /** What names the content: the source's task key (an OCI blob digest) or the URL itself. */
  private contentKeyOf(url: string): string {
    try {
      return this.opts.sources.resolve(url).taskKey?.(url) ?? url;
    } catch {
      return url;
    }
  }

  /** The task's in-memory state, loaded from the medium on first use. */
  async state(taskId: string): Promise<TaskState> {
    let s = this.states.get(taskId);
    if (s) {
      this.states.delete(taskId);
      this.states.set(taskId, s);
      return s;
    }
    s = new TaskState(taskId);
    const record = await this.opts.medium.getTask(taskId);
    if (record) {
      s.record = record;
      for (const p of await this.opts.medium.listPieces(taskId)) s.pieces.set(p.number, { ...p, createdAt: record.createdAt });
    }
    const raced = this.states.get(taskId);
    if (raced) return raced;
    this.states.set(taskId, s);
    this.trim();
    return s;
  }

  /** The state when the task is known to this peer (held or running), else undefined. */
  async find(taskId: string): Promise<TaskState | undefined> {
    const s = this.states.get(taskId);
    if (s) return s;
    if (!(await this.opts.medium.getTask(taskId))) return undefined;
    return this.state(taskId);
  }

  /** Forgets the task here: its pieces and record are deleted from the medium. */
  async delete(taskId: string): Promise<boolean> {
    const s = this.states.get(taskId);
    const existed = Boolean(s?.record) || Boolean(await this.opts.medium.getTask(taskId));
    if (s?.running) throw new D7yError('D7Y_CONFLICT', `task ${taskId} is downloading`, { fix: 'wait for the download to end, then delete it' });
    this.states.delete(taskId);
    this.stats.delete(taskId);
    await this.opts.medium.deleteTask(taskId);
    return existed;
  }

  /**
   * Makes every piece the request needs present on this peer. A task held in full is a local
   * hit (no scheduler, no origin). Otherwise the origin is stat'ed once per task, the record is
   * created, and the missing pieces come from the swarm or the origin. Rejects with a D7yError.
   */
  async ensure(req: PeerDownloadRequest, signal: AbortSignal): Promise<EnsureResult> {
    const id = this.taskIdOf(req);
    const state = await this.state(id);
    if (state.finished) {
      return { state, localHit: true, range: clampRange(req.range, state.contentLength!) };
    }
    const client = this.opts.sources.resolve(req.url);
    this.opts.logger.debug({ taskId: id }, 'download requested');
    if (req.options?.storage && !state.record) await this.opts.placeTask?.(id, req.options.storage);
    let localHit = true;
    for (let round = 0; ; round += 1) {
      if (state.running) {
        await state.running.catch(() => undefined);
        localHit = false;
        continue;
      }
      if (state.contentLength === undefined) {
        const st = await this.statOnce(state, client, req, signal);
        if (st.contentLength === undefined) {
          state.running = this.streamed(state, client, req, signal).finally(() => state.idle());
          await state.running;
          return { state, localHit: false, range: clampRange(req.range, state.contentLength!) };
        }
        await this.createRecord(state, req, st);
      }
      const range = clampRange(req.range, state.contentLength!);
      const missing = pieceSpans(state.contentLength!, state.pieceLength, range).map((s) => s.number).filter((n) => !state.has(n));
      if (missing.length === 0) {
        await this.markFinishedIfComplete(state);
        return { state, localHit, range };
      }
      if (round >= 3) throw new D7yError('D7Y_INTERNAL', `task ${id} still misses ${missing.length} piece(s) after ${round} downloads`);
      localHit = false;
      state.running = this.fetch(state, client, req, missing, signal).finally(() => state.idle());
      await state.running;
    }
  }

  private statOnce(state: TaskState, client: SourceClient, req: PeerDownloadRequest, signal: AbortSignal): Promise<SourceStat> {
    let p = this.stats.get(state.taskId);
    if (!p) {
      p = client.stat({ ...sourceRequest(req), signal });
      this.stats.set(state.taskId, p);
      p.catch(() => this.stats.delete(state.taskId));
    }
    return p;
  }

  private async createRecord(state: TaskState, req: PeerDownloadRequest, st: SourceStat): Promise<void> {
    const len = st.contentLength!;
    const limits = { min: this.opts.config.download.pieceLengthMin, max: MAX_PIECE_LENGTH };
    const pieceLength = req.pieceLength !== undefined ? validatePieceLength(req.pieceLength, limits) : pieceLengthFor(len, limits);
    state.record = await this.opts.medium.putTask({ taskId: state.taskId, url: req.url, contentLength: len, pieceLength });
  }

  private async markFinishedIfComplete(state: TaskState): Promise<void> {
    const total = state.totalPieces;
    if (state.finished || total === undefined || state.pieces.size < total) return;
    state.record = await this.opts.medium.putTask({ ...state.record!, finished: true });
  }

  private async fetch(state: TaskState, client: SourceClient, req: PeerDownloadRequest, missing: number[], signal: AbortSignal): Promise<void> {
    const cfg = this.opts.config;
    const srcReq = sourceRequest(req);
    const onPiece = (p: HeldPiece): void => state.addPiece(p);
    try {
      const direct = state.contentLength! <= cfg.download.directMaxBytes || !this.opts.scheduler;
      if (direct) {
        if (!this.backToSourceAllowed(req)) {
          throw new D7yError('D7Y_SCHEDULER_UNAVAILABLE', `no scheduler is configured and back-to-source is disabled for ${req.url}`, {
            fix: 'set peer.schedulers in the config, or allow back-to-source',
          });
        }
        await this.b2s.pieces(state, client, srcReq, await this.supportsRange(state, client, req, signal), missing, onPiece, signal);
      } else {
        await this.viaScheduler(state, client, req, missing, signal);
      }
      await this.markFinishedIfComplete(state);
    } catch (err) {
      const e = signal.aborted && !isD7yError(err) ? abortError(signal, `download of ${req.url}`) : toD7yError(err, 'D7Y_INTERNAL');
      if (isStorageFull(e)) {
        await this.opts.medium.deleteTask(state.taskId).catch(() => undefined);
        state.pieces.clear();
        state.record = undefined;
        this.states.delete(state.taskId);
        throw new D7yError('D7Y_STORAGE_FULL', `no room left in the ${this.opts.medium.name} storage for ${req.url}`, {
          fix: 'free space in the peer data directory (or raise its size), then retry', cause: err,
        });
      }
      throw signal.aborted && isD7yError(err, 'D7Y_ABORTED') ? abortError(signal, `download of ${req.url}`) : e;
    }
  }

  private async viaScheduler(state: TaskState, client: SourceClient, req: PeerDownloadRequest, missing: number[], signal: AbortSignal): Promise<void> {
    const cfg = this.opts.config;
    const peerId = `${this.opts.peerIdPrefix}-${randomUUID()}${cfg.seed ? '-seed' : ''}`;
    const ids = { hostId: this.opts.hostId, taskId: state.taskId, peerId };
    const lostSchedulers = new Set<string>();
    const tally = new DownloadTally();
    let session = this.opts.scheduler!.announcePeer(ids);
    const len = state.contentLength!;
    const count = pieceCount(len, state.pieceLength);
    let outcome: Awaited<ReturnType<P2PDownload['run']>>;
    for (;;) {
      try {
        await session.register(this.downloadMessage(state, req));
        this.opts.logger.debug({ taskId: state.taskId, peerId, scheduler: session.address }, 'registered with the scheduler');
        if (tally.failovers > 0) this.reportHeldPieces(session, state);
        const p2p = new P2PDownload({
          medium: this.opts.medium, vortex: this.opts.vortex, dfdaemon: this.opts.dfdaemon, limiter: this.downloadLimiter,
          logger: this.opts.logger, hostId: this.opts.hostId, concurrency: cfg.download.concurrency,
          stallMs: cfg.download.stallMs, maxReschedules: cfg.download.maxReschedules,
        }, state, session, missing.filter((n) => !state.has(n)), (p) => {
          tally.peerBytes += p.length;
          return state.addPiece(p);
        }, signal);
        outcome = await p2p.run();
      } catch (err) {
        const e = toD7yError(err, 'D7Y_SCHEDULER_UNAVAILABLE');
        if (e.code !== 'D7Y_SCHEDULER_UNAVAILABLE' && (tally.failovers === 0 || signal.aborted)) {
          session.failed(e.message, tally.stats(session)).catch(() => undefined);
          session.end();
          throw e;
        }
        outcome = { kind: 'back-to-source', schedulerLost: true, reason: e.message };
      }
      if (outcome.kind !== 'back-to-source' || !outcome.schedulerLost || signal.aborted) break;
      const next = this.failover(session, ids, lostSchedulers, outcome.reason);
      if (!next) break;
      tally.absorb(session);
      tally.failovers += 1;
      session = next;
    }
    try {
      if (outcome.kind === 'done') {
        await session.finished(len, count, tally.stats(session)).catch(() => undefined);
        return;
      }
      const still = missing.filter((n) => !state.has(n));
      if (!this.backToSourceAllowed(req)) {
        throw outcome.schedulerLost
          ? new D7yError('D7Y_SCHEDULER_UNAVAILABLE', `${outcome.reason}; back-to-source is disabled, so ${req.url} cannot be downloaded`, {
            fix: 'start the scheduler (or fix peer.schedulers), or drop --disable-back-to-source',
          })
          : new D7yError('D7Y_PEER_UNAVAILABLE', `${outcome.reason}; back-to-source is disabled, so ${still.length} piece(s) of ${req.url} cannot be downloaded`, {
            fix: 'retry when more peers hold the file, or drop --disable-back-to-source',
          });
      }
      const lost = outcome.schedulerLost;
      tally.backToSource = true;
      this.opts.logger.info({ taskId: state.taskId, reason: outcome.reason, pieces: still.length }, 'going back to the origin');
      if (!outcome.schedulerLost) await session.backToSourceStarted(outcome.reason).catch(() => undefined);
      const report = (p: HeldPiece): void => {
        tally.sourceBytes += p.length;
        state.addPiece(p);
        if (!lost) {
          session.backToSourcePieceFinished({
            number: p.number, offset: p.offset, length: p.length, digest: p.digest, trafficType: 0, cost: p.cost ?? 0, createdAt: p.createdAt,
          }).catch(() => undefined);
        }
      };
      try {
        await this.b2s.pieces(state, client, sourceRequest(req), await this.supportsRange(state, client, req, signal), still, report, signal);
      } catch (err) {
        if (!lost) await session.backToSourceFailed((err as Error).message, tally.stats(session)).catch(() => undefined);
        throw err;
      }
      if (!lost) await session.backToSourceFinished(len, count, tally.stats(session)).catch(() => undefined);
    } finally {
      if (outcome.kind === 'back-to-source' && outcome.schedulerLost) session.cancel();
      else session.end();
    }
  }

  /**
   * The scheduler of `session` is lost: opens the download's session on the next scheduler of the
   * ring not yet lost, or returns undefined when none is left (the caller goes to the origin).
   */
  private failover(session: AnnouncePeerSession, ids: AnnouncePeerIds, lost: Set<string>, reason: string): AnnouncePeerSession | undefined {
    lost.add(session.address);
    session.cancel();
    try {
      const next = this.opts.scheduler!.announcePeer(ids, { exclude: lost });
      this.opts.logger.warn({ taskId: ids.taskId, from: session.address, to: next.address, reason }, 'scheduler lost; moving to the next one');
      return next;
    } catch {
      return undefined;
    }
  }

  /** Tells a scheduler taken over mid-download which pieces this peer already holds, so it can serve them. */
  private reportHeldPieces(session: AnnouncePeerSession, state: TaskState): void {
    for (const p of state.pieces.values()) {
      session.pieceFinished({
        number: p.number, offset: p.offset, length: p.length, digest: p.digest, parentId: '',
        trafficType: TrafficType.LocalPeer, cost: 0, createdAt: p.createdAt,
      }).catch(() => undefined);
    }
  }

  private async supportsRange(state: TaskState, client: SourceClient, req: PeerDownloadRequest, signal: AbortSignal): Promise<boolean> {
    return (await this.statOnce(state, client, req, signal)).supportsRange;
  }

  private backToSourceAllowed(req: PeerDownloadRequest): boolean {
    return this.opts.config.download.backToSource && !req.disableBackToSource;
  }

  private async streamed(state: TaskState, client: SourceClient, req: PeerDownloadRequest, signal: AbortSignal): Promise<void> {
    if (!this.backToSourceAllowed(req)) {
      throw new D7yError('D7Y_SOURCE_ERROR', `the origin of ${req.url} does not say its length, so only back-to-source can fetch it, and that is disabled`, {
        fix: 'drop --disable-back-to-source for this URL',
      });
    }
    const pieceLength = req.pieceLength ?? this.opts.config.download.pieceLengthMin;
    state.streaming = true;
    try {
      state.record = await this.opts.medium.putTask({ taskId: state.taskId, url: req.url, pieceLength });
      const len = await this.b2s.streamed(state, client, sourceRequest(req), pieceLength, (p) => state.addPiece(p), signal);
      state.record = await this.opts.medium.putTask({ ...state.record, contentLength: len, finished: true });
    } catch (err) {
      await this.opts.medium.deleteTask(state.taskId).catch(() => undefined);
      this.states.delete(state.taskId);
      const e = toD7yError(err, 'D7Y_SOURCE_ERROR');
      throw isStorageFull(e)
        ? new D7yError('D7Y_STORAGE_FULL', `no room left in the ${this.opts.medium.name} storage for ${req.url}`, {
          fix: 'free space in the peer data directory (or raise its size), then retry', cause: err,
        })
        : e;
    } finally {
      state.streaming = false;
    }
  }

  private downloadMessage(state: TaskState, req: PeerDownloadRequest): Download {
    return {
      url: req.url, digest: req.digest, range: req.range, tag: req.tag ?? '', application: req.application ?? '',
      filteredQueryParams: req.filteredQueryParams ?? [], requestHeader: req.headers ?? {}, pieceLength: req.pieceLength,
      timeout: req.timeoutMs, disableBackToSource: !this.backToSourceAllowed(req), needBackToSource: req.needBackToSource ?? false,
      objectStorage: req.objectStorage, hdfs: req.hdfs, options: req.options ?? {}, contentLength: state.contentLength,
    };
  }

  private trim(): void {
    if (this.states.size <= MAX_IDLE_STATES) return;
    for (const [id, s] of this.states) {
      if (this.states.size <= MAX_IDLE_STATES) break;
      if (!s.running && s.listenerCount('piece') === 0) this.states.delete(id);
    }
  }
}

/** The SourceRequest of a download request (headers, credentials, options). */
export function sourceRequest(req: PeerDownloadRequest): SourceRequest {
  return { url: req.url, headers: req.headers, objectStorage: req.objectStorage, hdfs: req.hdfs, options: req.options };
}
