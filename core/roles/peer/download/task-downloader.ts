import { randomUUID } from 'node:crypto';
import type { SourceClient, SourceRequest, SourceStat } from '../../../contracts/source-client.js';
import type { StorageMedium } from '../../../contracts/storage-medium.js';
import type { PeerConfig } from '../../../config/peer-config.js';
import { D7yError, isD7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { DfdaemonUploadClient } from '../../../protocol/rpc/dfdaemon-upload-client.js';
import type { Download } from '../../../protocol/rpc/gen/common.js';
import type { SchedulerClient } from '../../../protocol/rpc/scheduler-client.js';
import { schemeOf, type SourceRouter } from '../../../registry/source-router.js';
import { pieceCount, pieceLengthFor, validatePieceLength, MAX_PIECE_LENGTH } from '../../../task/piece-length.js';
import type { PeerDownloadRequest } from '../../../protocol/local-api/download-request.js';
import { TokenBucket } from '../token-bucket.js';
import { clampRange, pieceSpans } from '../tasks/piece-span.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import type { HeldPiece, TaskState } from '../tasks/task-state.js';
import type { BackToSourceReason, PeerMetrics } from '../peer-metrics.js';
import { BackToSource, abortError } from './back-to-source.js';
import { P2PDownload, isStorageFull, type P2POutcome, type PieceFetcher } from './p2p-download.js';
import { SchedulerConversation } from './scheduler-conversation.js';

/** The scheduler's answer to a stream from a host it does not know (it restarted since the host's last announce). */
const UNKNOWN_HOST = /is not announced to this scheduler/;

export interface TaskDownloaderOptions {
  config: PeerConfig;
  catalog: TaskCatalog;
  sources: SourceRouter;
  scheduler?: SchedulerClient;
  /** Announces this host to the schedulers now; true when one took it (a restarted scheduler that did not know the host). */
  announceHost?: () => Promise<boolean>;
  vortex: PieceFetcher;
  dfdaemon: DfdaemonUploadClient;
  logger: Logger;
  hostId: string;
  /** `{ip}-{hostname}` prefix of peer ids (`-seed` is appended for seed peers). */
  peerIdPrefix: string;
  /** Counts pieces as they land and why downloads go to the origin. */
  metrics?: PeerMetrics;
  /** Puts a new task in the storage medium its download names (`options.storage`); rejects when that medium is not loaded. */
  placeTask?: (taskId: string, medium: string) => Promise<void>;
}

/** What `ensure` found or fetched. */
export interface EnsureResult {
  state: TaskState;
  localHit: boolean;
  range?: { start: number; length: number };
}

/**
 * The download engine: brings the missing pieces of a task into the catalog, from the swarm
 * through the scheduler or from the origin, one download per task (concurrent requests for one
 * task share it). Front doors do not call it: they go through the DownloadService.
 */
export class TaskDownloader {
  private readonly stats = new Map<string, Promise<SourceStat>>();
  private readonly b2s: BackToSource;
  readonly downloadLimiter: TokenBucket;
  private readonly medium: StorageMedium;

  constructor(private readonly opts: TaskDownloaderOptions) {
    this.medium = opts.catalog.medium;
    this.downloadLimiter = new TokenBucket(opts.config.download.rateLimit);
    this.b2s = new BackToSource({ medium: this.medium, concurrency: opts.config.download.concurrency, limiter: this.downloadLimiter, logger: opts.logger,
      cutThrough: opts.config.upload.cutThroughFromOrigin });
  }

  /** The scheduler client later downloads use (the manager may name schedulers after start). */
  set scheduler(client: SchedulerClient | undefined) {
    this.opts.scheduler = client;
  }

  /** Forgets what the origin said of a task (after the task was deleted). */
  forget(taskId: string): void {
    this.stats.delete(taskId);
  }

  /**
   * Makes every piece the request needs present on this peer. A task held in full is a local
   * hit (no scheduler, no origin). Otherwise the origin is stat'ed once per task, the record is
   * created, and the missing pieces come from the swarm or the origin. Rejects with a D7yError.
   */
  async ensure(id: string, req: PeerDownloadRequest, signal: AbortSignal): Promise<EnsureResult> {
    const state = await this.opts.catalog.state(id);
    if (state.finished) {
      return { state, localHit: true, range: clampRange(req.range, state.contentLength!) };
    }
    const client = this.opts.sources.resolve(req.url);
    this.opts.logger.debug({ taskId: id }, 'download requested');
    if (req.options?.storage && !state.record) await this.opts.placeTask?.(id, req.options.storage);
    let localHit = true;
    let created = false;
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
        created = true;
      }
      const range = clampRange(req.range, state.contentLength!);
      const missing = pieceSpans(state.contentLength!, state.pieceLength, range).map((s) => s.number).filter((n) => !state.has(n));
      if (missing.length === 0) {
        await this.markFinishedIfComplete(state);
        return { state, localHit, range };
      }
      if (round >= 3) throw new D7yError('D7Y_INTERNAL', `task ${id} still misses ${missing.length} piece(s) after ${round} downloads`);
      localHit = false;
      if (!created && round === 0 && (await this.originChanged(state, client, req, signal))) continue;
      state.running = this.fetch(state, client, req, missing, signal).finally(() => state.idle());
      await state.running;
    }
  }

  /**
   * Before a resume: asks the origin again, and when it names other content than the task was
   * started with (ETag, Last-Modified or length), empties the task so it starts again.
   */
  private async originChanged(state: TaskState, client: SourceClient, req: PeerDownloadRequest, signal: AbortSignal): Promise<boolean> {
    const was = state.record?.origin;
    if (was === undefined) return false;
    this.stats.delete(state.taskId);
    const now = originOf(await this.statOnce(state, client, req, signal));
    if (now === was) return false;
    this.opts.logger.info({ taskId: state.taskId, was, now }, 'the origin changed since the task started; starting it again');
    await this.opts.catalog.reset(state);
    return true;
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
    state.record = await this.medium.putTask({ taskId: state.taskId, url: req.url, contentLength: len, pieceLength, origin: originOf(st) });
  }

  private async markFinishedIfComplete(state: TaskState): Promise<void> {
    const total = state.totalPieces;
    if (state.finished || total === undefined || state.pieces.size < total) return;
    state.record = await this.medium.putTask({ ...state.record!, finished: true });
  }

  private async fetch(state: TaskState, client: SourceClient, req: PeerDownloadRequest, missing: number[], signal: AbortSignal): Promise<void> {
    const cfg = this.opts.config;
    const uncount = this.countPieces(state, req.url);
    try {
      // A download the scheduler asked for (a seed peer's trigger) always reports back to it, however small.
      const direct = (state.contentLength! <= cfg.download.directMaxBytes && !req.needBackToSource) || !this.opts.scheduler;
      if (direct) {
        if (!this.goesBackToSource(req, this.opts.scheduler ? 'small_object' : 'no_scheduler')) {
          throw new D7yError('D7Y_SCHEDULER_UNAVAILABLE', `no scheduler is configured and back-to-source is disabled for ${req.url}`, {
            fix: 'set peer.schedulers in the config, or allow back-to-source',
          });
        }
        await this.b2s.pieces(state, client, sourceRequest(req), await this.supportsRange(state, client, req, signal), missing, (p) => state.addPiece(p), signal);
      } else {
        await this.viaScheduler(state, client, req, missing, signal);
      }
      await this.markFinishedIfComplete(state);
    } catch (err) {
      const e = signal.aborted && !isD7yError(err) ? abortError(signal, `download of ${req.url}`) : toD7yError(err, 'D7Y_INTERNAL');
      if (isStorageFull(e)) {
        await this.opts.catalog.discard(state);
        throw storageFull(this.medium, req, err);
      }
      throw signal.aborted && isD7yError(err, 'D7Y_ABORTED') ? abortError(signal, `download of ${req.url}`) : e;
    } finally {
      uncount();
    }
  }

  /**
   * Counts every piece landing in `state` (from parents or the origin) until the returned function
   * is called: once per piece, whichever part of the engine brought it.
   */
  private countPieces(state: TaskState, url: string): () => void {
    const metrics = this.opts.metrics;
    if (!metrics) return () => undefined;
    let source = 'unknown';
    try {
      source = this.opts.sources.ownerOf(schemeOf(url)) ?? source;
    } catch { /* an unsupported URL fails the download elsewhere */ }
    const onPiece = (p: HeldPiece): void => metrics.pieceLanded(p, source);
    state.on('piece', onPiece);
    return () => state.off('piece', onPiece);
  }

  /** Whether a download may go to the origin for `reason`; counted either way. */
  private goesBackToSource(req: PeerDownloadRequest, reason: BackToSourceReason): boolean {
    const allowed = this.backToSourceAllowed(req);
    (allowed ? this.opts.metrics?.backToSource : this.opts.metrics?.backToSourceRefused)?.inc({ reason });
    return allowed;
  }

  /** The swarm part of a download: the P2P engine, with one scheduler conversation, then the origin for what is left. */
  private async viaScheduler(state: TaskState, client: SourceClient, req: PeerDownloadRequest, missing: number[], signal: AbortSignal): Promise<void> {
    const cfg = this.opts.config;
    const peerId = `${this.opts.peerIdPrefix}-${randomUUID()}${cfg.seed ? '-seed' : ''}`;
    const talk = new SchedulerConversation(this.opts.scheduler!, { hostId: this.opts.hostId, taskId: state.taskId, peerId }, this.opts.logger);
    const len = state.contentLength!;
    const count = pieceCount(len, state.pieceLength);
    let outcome: P2POutcome;
    try {
      for (;;) {
        try {
          await talk.register(this.downloadMessage(state, req), state.pieces.values());
          outcome = await new P2PDownload({
            medium: this.medium, vortex: this.opts.vortex, dfdaemon: this.opts.dfdaemon, limiter: this.downloadLimiter,
            logger: this.opts.logger, hostId: this.opts.hostId, concurrency: cfg.download.concurrency,
            stallMs: cfg.download.stallMs, maxReschedules: cfg.download.maxReschedules, digestWaitMs: cfg.download.trustedDigestTimeout,
          }, state, talk, missing.filter((n) => !state.has(n)), signal).run();
        } catch (err) {
          const e = toD7yError(err, 'D7Y_SCHEDULER_UNAVAILABLE');
          if (e.code !== 'D7Y_SCHEDULER_UNAVAILABLE' && (talk.tally.failovers === 0 || signal.aborted)) {
            talk.failed(e.message);
            throw e;
          }
          outcome = { kind: 'back-to-source', schedulerLost: true, cause: 'scheduler_lost', reason: e.message };
        }
        if (outcome.kind !== 'back-to-source' || !outcome.schedulerLost || signal.aborted) break;
        if (UNKNOWN_HOST.test(outcome.reason) && (await this.opts.announceHost?.()) && talk.retrySame(outcome.reason)) continue;
        if (!talk.failover(outcome.reason)) break;
      }
      if (outcome.kind === 'done') return await talk.finished(len, count);
      if (outcome.schedulerLost) talk.detach();
      await this.rest(state, client, req, missing, outcome, talk, signal);
      await talk.backToSourceFinished(len, count);
    } finally {
      talk.close();
    }
  }

  /** The pieces the swarm could not give, from the origin (when allowed), reported to the scheduler. */
  private async rest(state: TaskState, client: SourceClient, req: PeerDownloadRequest, missing: number[],
    outcome: Extract<P2POutcome, { kind: 'back-to-source' }>, talk: SchedulerConversation, signal: AbortSignal): Promise<void> {
    const still = missing.filter((n) => !state.has(n));
    const seed = outcome.cause === 'no_parent' && (this.opts.config.seed || req.needBackToSource);
    if (!this.goesBackToSource(req, seed ? 'seed_peer' : outcome.cause)) {
      throw outcome.schedulerLost
        ? new D7yError('D7Y_SCHEDULER_UNAVAILABLE', `${outcome.reason}; back-to-source is disabled, so ${req.url} cannot be downloaded`, {
          fix: 'start the scheduler (or fix peer.schedulers), or drop --disable-back-to-source',
        })
        : new D7yError('D7Y_PEER_UNAVAILABLE', `${outcome.reason}; back-to-source is disabled, so ${still.length} piece(s) of ${req.url} cannot be downloaded`, {
          fix: 'retry when more peers hold the file, or drop --disable-back-to-source',
        });
    }
    this.opts.logger.info({ taskId: state.taskId, reason: outcome.reason, pieces: still.length }, 'going back to the origin');
    await talk.backToSourceStarted(`${outcome.cause}: ${outcome.reason}`);
    const report = (p: HeldPiece): void => {
      state.addPiece(p);
      talk.backToSourcePiece(p);
    };
    try {
      await this.b2s.pieces(state, client, sourceRequest(req), await this.supportsRange(state, client, req, signal), still, report, signal);
    } catch (err) {
      await talk.backToSourceFailed((err as Error).message);
      throw err;
    }
  }

  private async supportsRange(state: TaskState, client: SourceClient, req: PeerDownloadRequest, signal: AbortSignal): Promise<boolean> {
    return (await this.statOnce(state, client, req, signal)).supportsRange;
  }

  private backToSourceAllowed(req: PeerDownloadRequest): boolean {
    return this.opts.config.download.backToSource && !req.disableBackToSource;
  }

  private async streamed(state: TaskState, client: SourceClient, req: PeerDownloadRequest, signal: AbortSignal): Promise<void> {
    if (!this.goesBackToSource(req, 'unknown_length')) {
      throw new D7yError('D7Y_SOURCE_ERROR', `the origin of ${req.url} does not say its length, so only back-to-source can fetch it, and that is disabled`, {
        fix: 'drop --disable-back-to-source for this URL',
      });
    }
    const pieceLength = req.pieceLength ?? this.opts.config.download.pieceLengthMin;
    state.streaming = true;
    const uncount = this.countPieces(state, req.url);
    try {
      state.record = await this.medium.putTask({ taskId: state.taskId, url: req.url, pieceLength });
      const len = await this.b2s.streamed(state, client, sourceRequest(req), pieceLength, (p) => state.addPiece(p), signal);
      state.record = await this.medium.putTask({ ...state.record, contentLength: len, finished: true });
    } catch (err) {
      await this.opts.catalog.discard(state);
      const e = toD7yError(err, 'D7Y_SOURCE_ERROR');
      throw isStorageFull(e) ? storageFull(this.medium, req, err) : e;
    } finally {
      uncount();
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
}

/** The SourceRequest of a download request (headers, credentials, options). */
export function sourceRequest(req: PeerDownloadRequest): SourceRequest {
  return { url: req.url, headers: req.headers, objectStorage: req.objectStorage, hdfs: req.hdfs, options: req.options };
}

/** What identifies the origin's content: its ETag, Last-Modified and length, as far as it says them. */
function originOf(st: SourceStat): string {
  return [st.etag && `etag ${st.etag}`, st.lastModified && `modified ${st.lastModified}`, `length ${st.contentLength ?? '?'}`].filter(Boolean).join('; ');
}

function storageFull(medium: StorageMedium, req: PeerDownloadRequest, cause: unknown): D7yError {
  return new D7yError('D7Y_STORAGE_FULL', `no room left in the ${medium.name} storage for ${req.url}`, {
    fix: 'free space in the peer data directory (or raise its size), then retry', cause,
  });
}
