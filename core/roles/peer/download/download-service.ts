import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { SourceEntry } from '../../../contracts/source-client.js';
import type { Logger } from '../../../logging/logger.js';
import { D7yError, isD7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { PeerDownloadRequest, PeerDownloadResult, TrafficShare } from '../../../protocol/local-api/download-request.js';
import type { SourceRouter } from '../../../registry/source-router.js';
import { parseDigest } from '../../../task/piece-digest.js';
import { taskId as computeTaskId } from '../../../task/task-id.js';
import { clampRange, pieceSpans } from '../tasks/piece-span.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import type { HeldPiece, TaskState } from '../tasks/task-state.js';
import { DigestCheck } from './digest-check.js';
import { checkOutputPath } from '../../../protocol/local-api/output-path.js';
import { evictMismatched } from './corrupt-copy.js';
import { OutputWriter } from './output-writer.js';
import type { PeerMetrics } from '../peer-metrics.js';
import { TrafficSplit } from './traffic-split.js';
import { sourceRequest, type EnsureResult, type TaskDownloader } from './task-downloader.js';
import { inSpan } from '../../../logging/tracing.js';

/** How often, at most, `onProgress` is called while pieces land (ms). */
const PROGRESS_EVERY_MS = 200;

export interface FetchHooks {
  /** Aborting it ends the download (a D7yError reason is passed on as it is). */
  signal?: AbortSignal;
  /** Called for every piece as it lands (the task's state carries the rest). */
  onPiece?: (piece: HeldPiece, state: TaskState) => void;
  /**
   * Bytes held, the total when known, and the split so far by provenance (peers, origin, local
   * cache), at most every 200 ms and once at the end.
   */
  onProgress?: (progress: { taskId: string; bytes: number; total?: number } & TrafficShare) => void;
}

export interface OpenHooks {
  signal?: AbortSignal;
  /**
   * The bytes to deliver, chosen once the content length is known (an HTTP `Range` such as
   * `bytes=-500`), while the whole task is downloaded; may throw to refuse. Overrides `req.range`.
   */
  rangeOf?: (contentLength: number) => { start: number; length: number } | undefined;
}

/** A download whose bytes are being delivered in order while pieces arrive. */
export interface TaskStream {
  taskId: string;
  /** Known once the origin said it (undefined for an origin that streams without a length). */
  contentLength?: number;
  /** The bytes that will be delivered (the range length, or the content length), when known. */
  bytes?: number;
  /** The range delivered, once the content length is known (undefined: the whole object). */
  range?: { start: number; length: number };
  /** The peer held every piece already when the stream was opened. */
  localHit: boolean;
  /**
   * Writes the bytes to `sink` in order, honouring its back-pressure, checking the request's
   * digest at the end. Rejects with a D7yError when the download fails after bytes were written,
   * so a caller can abort its client instead of ending a short body as if it were whole.
   */
  copyTo(sink: Writable): Promise<PeerDownloadResult>;
}

/**
 * The peer's one way to download: every front door (local API, dfdaemon DownloadTask, the SDK's
 * embedded peer, recursive get, the proxy) calls it. It computes the task id, runs the download
 * engine, reports pieces and progress as they land, and delivers the result to a file, to a
 * stream, or just into the catalog.
 */
export class DownloadService {
  private readonly output: OutputWriter;

  constructor(
    private readonly catalog: TaskCatalog,
    private readonly engine: TaskDownloader,
    private readonly sources: SourceRouter,
    private readonly logger: Logger,
    private readonly metrics?: PeerMetrics,
  ) {
    this.output = new OutputWriter(catalog);
  }

  /** The task id of a request: the source's content key (an OCI blob digest) or the URL, with tag, application and piece length. */
  taskIdOf(req: PeerDownloadRequest): string {
    let key = req.url;
    try {
      key = this.sources.resolve(req.url).taskKey?.(req.url) ?? req.url;
    } catch {
      // no source for the scheme: the download itself reports that
    }
    return computeTaskId({ url: key, tag: req.tag, application: req.application, pieceLength: req.pieceLength, filteredQueryParams: req.filteredQueryParams });
  }

  /** Brings every piece the request needs into the catalog, reporting them as they land. */
  fetch(req: PeerDownloadRequest, hooks: FetchHooks = {}): Promise<EnsureResult & { taskId: string; split: TrafficSplit }> {
    return this.measured(req, () => this.fetchPieces(req, hooks), (r) => r.split.share(r.range, r.state.contentLength, r.state.pieceLength).fromCache);
  }

  private async fetchPieces(req: PeerDownloadRequest, hooks: FetchHooks): Promise<EnsureResult & { taskId: string; split: TrafficSplit }> {
    const taskId = this.taskIdOf(req);
    const state = await this.catalog.state(taskId);
    const split = new TrafficSplit(state);
    let last = 0;
    const onPiece = (p: HeldPiece): void => {
      split.add(p);
      hooks.onPiece?.(p, state);
      if (!hooks.onProgress) return;
      const now = Date.now();
      if (now - last < PROGRESS_EVERY_MS) return;
      last = now;
      hooks.onProgress({ taskId, bytes: state.heldBytes(), total: state.contentLength, ...split.share() });
    };
    state.on('piece', onPiece);
    try {
      const r = await this.engine.ensure(taskId, req, hooks.signal ?? new AbortController().signal);
      hooks.onProgress?.({ taskId, bytes: r.state.heldBytes(), total: r.state.contentLength, ...split.share() });
      return { ...r, taskId, split };
    } finally {
      state.off('piece', onPiece);
    }
  }

  /** Downloads, then writes the result to `req.output` when it is set (atomically, digest checked). */
  download(req: PeerDownloadRequest, hooks: Omit<FetchHooks, 'onPiece'> = {}): Promise<PeerDownloadResult> {
    return this.measured(req, () => this.downloadTo(req, hooks), (r) => r.fromCache ?? 0);
  }

  private async downloadTo(req: PeerDownloadRequest, hooks: Omit<FetchHooks, 'onPiece'>): Promise<PeerDownloadResult> {
    if (req.output) await checkOutputPath(req.output, req.overwrite ?? false);
    if (req.digest) parseDigest(req.digest);
    const { state, localHit, range, taskId, split } = await this.fetchPieces(req, hooks);
    const result = { ...resultOf(taskId, state, localHit, range), ...split.share(range, state.contentLength, state.pieceLength) };
    if (req.output) {
      result.outputMode = await this.output.write(state, req.output, { range, digest: req.digest, overwrite: req.overwrite ?? false, mode: req.outputMode, signal: hooks.signal })
        .catch(async (err: unknown) => { throw isD7yError(err, 'D7Y_DIGEST_MISMATCH') ? await evictMismatched(this.catalog, state, req.url, err, this.logger) : err; });
      result.output = req.output;
    }
    return result;
  }

  /**
   * Starts a download and resolves once its first bytes can be delivered (or it failed before),
   * so a caller can answer its client at once and stream the rest as pieces arrive.
   */
  async open(req: PeerDownloadRequest, hooks: OpenHooks = {}): Promise<TaskStream> {
    const startedAt = performance.now();
    try {
      return await this.openStream(req, hooks, startedAt);
    } catch (err) {
      this.metrics?.downloadEnded(startedAt, 0, toD7yError(err).code);
      throw err;
    }
  }

  private async openStream(req: PeerDownloadRequest, hooks: OpenHooks, startedAt: number): Promise<TaskStream> {
    if (req.digest) parseDigest(req.digest);
    const taskId = this.taskIdOf(req);
    const state = await this.catalog.state(taskId);
    const held = state.finished;
    const failed = new AbortController();
    let ended = false;
    const split = new TrafficSplit(state);
    const onPiece = (p: HeldPiece): void => split.add(p);
    state.on('piece', onPiece);
    const ensured = this.engine.ensure(taskId, req, hooks.signal ?? new AbortController().signal).then(
      (r) => { ended = true; state.off('piece', onPiece); return r; },
      (err: unknown) => { ended = true; state.off('piece', onPiece); failed.abort(toD7yError(err)); throw err; },
    );
    ensured.catch(() => undefined);
    let landed: (() => void) | undefined;
    const firstPiece = new Promise<void>((resolve) => {
      if (state.pieces.size > 0 || state.finished) return resolve();
      landed = () => resolve();
      state.once('piece', landed);
    });
    try {
      await Promise.race([ensured, firstPiece]);
    } finally {
      // A download that failed before its first piece leaves no listener on the shared task state.
      if (landed) state.off('piece', landed);
    }
    if ((req.range || hooks.rangeOf) && state.contentLength === undefined) await ensured;
    const range = state.contentLength === undefined ? undefined
      : hooks.rangeOf ? hooks.rangeOf(state.contentLength) : clampRange(req.range, state.contentLength);
    const copyTo = async (sink: Writable): Promise<PeerDownloadResult> => {
      const closed = new AbortController();
      const onClose = (): void => closed.abort(new D7yError('D7Y_ABORTED', 'the client went away'));
      sink.once('close', onClose);
      const waits = AbortSignal.any([failed.signal, closed.signal]);
      const check = req.digest ? new DigestCheck(req.digest) : undefined;
      try {
        const startPiece = range ? Math.floor(range.start / state.pieceLength) : 0;
        for (let n = startPiece; ; n += 1) {
          const len = state.contentLength;
          const span = len === undefined ? undefined : pieceSpans(len, state.pieceLength, range).find((s) => s.number === n);
          if (len !== undefined && !span) break;
          if (!state.has(n)) {
            const over = ended ? Promise.resolve() : ensured.then(() => undefined);
            await Promise.race([state.waitForPiece(n, waits), over]);
            if (!state.has(n)) {
              if (state.contentLength !== undefined && pieceSpans(state.contentLength, state.pieceLength, range).some((s) => s.number === n)) {
                throw new D7yError('D7Y_INTERNAL', `piece ${n} of task ${taskId} is missing after the download`);
              }
              break;
            }
          }
          const piece = state.pieces.get(n)!;
          const body = await this.catalog.medium.readPiece(taskId, n, span?.sub ?? { start: 0, length: piece.length });
          await copyPiece(body, sink, check);
        }
        const { localHit } = await ensured;
        try {
          check?.check(req.url);
        } catch (err) {
          throw isD7yError(err) ? await evictMismatched(this.catalog, state, req.url, err, this.logger) : err;
        }
        const result = { ...resultOf(taskId, state, localHit, range), ...split.share(range, state.contentLength, state.pieceLength) };
        this.metrics?.downloadEnded(startedAt, result.fromCache);
        return result;
      } catch (err) {
        const e = toD7yError(err);
        this.metrics?.downloadEnded(startedAt, 0, e.code);
        this.logger.info({ taskId, code: e.code, err: e.message }, 'streamed download failed');
        throw e;
      } finally {
        sink.off('close', onClose);
      }
    };
    return { taskId, contentLength: state.contentLength, bytes: range?.length ?? state.contentLength, range, localHit: held, copyTo };
  }

  /**
   * Runs one download request in a span (`d7y.download`, with the task id), counting its result,
   * duration, local-hit bytes and error code.
   */
  private measured<T>(req: PeerDownloadRequest, run: () => Promise<T>, localHitBytes: (result: T) => number): Promise<T> {
    return inSpan('d7y.download', { 'd7y.task_id': this.taskIdOf(req) }, async (span) => {
      const startedAt = performance.now();
      try {
        const result = await run();
        const hit = localHitBytes(result);
        this.metrics?.downloadEnded(startedAt, hit);
        span.setAttribute('d7y.local_hit_bytes', hit);
        return result;
      } catch (err) {
        const code = toD7yError(err).code;
        this.metrics?.downloadEnded(startedAt, 0, code);
        span.setAttribute('d7y.error_code', code);
        throw err;
      }
    });
  }

  /**
   * The entries under a prefix, directory or repository (recursive downloads), from the URL's
   * source. Refused at once for a source that cannot list.
   */
  listSource(req: PeerDownloadRequest): AsyncIterable<SourceEntry> {
    const client = this.sources.resolve(req.url);
    if (!client.list) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `the source for ${req.url.split(':')[0]}:// URLs cannot list, so ${req.url} cannot be downloaded recursively`, {
        fix: 'drop -r to download one object, or use a source that lists (s3, gs, hdfs, oci, maven, yum)',
      });
    }
    const signal = req.timeoutMs ? AbortSignal.timeout(req.timeoutMs) : undefined;
    return client.list({ ...sourceRequest(req), recursive: true, signal });
  }

  /** Deletes a task from this peer (refused while it downloads); false when it was not here. */
  async delete(taskId: string): Promise<boolean> {
    const existed = await this.catalog.delete(taskId);
    this.engine.forget(taskId);
    return existed;
  }
}

function resultOf(taskId: string, s: TaskState, localHit: boolean, range?: { start: number; length: number }): PeerDownloadResult {
  return {
    taskId, contentLength: s.contentLength!, pieceLength: s.pieceLength, pieceCount: s.totalPieces ?? 0, localHit,
    bytes: range?.length ?? s.contentLength!,
  };
}

/**
 * Writes one piece's bytes to the sink, honouring back-pressure, feeding the digest check.
 * Adds no lasting listeners to the sink, however many pieces are copied.
 */
async function copyPiece(body: Readable, sink: Writable, check?: DigestCheck): Promise<void> {
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      check?.update(chunk);
      if (sink.destroyed) throw new D7yError('D7Y_ABORTED', 'the client went away');
      if (!sink.write(chunk)) {
        const ac = new AbortController();
        await Promise.race([once(sink, 'drain', { signal: ac.signal }), once(sink, 'close', { signal: ac.signal })]).finally(() => ac.abort());
      }
    }
  } finally {
    body.destroy();
  }
}
