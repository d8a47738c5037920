import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PeerConfig } from '../../../config/peer-config.js';
import type { Startable } from '../../../contracts/startable.js';
import { D7yError, isD7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { CacheApi, CacheEvent, CacheExportRequest, CacheImportRequest, CachePushOutcome, CachePushRequest, CacheTaskView } from '../../../protocol/local-api/cache-api.js';
import { checkOutputPath } from '../../../protocol/local-api/output-path.js';
import type { PersistentCacheTask } from '../../../protocol/rpc/gen/scheduler-persistent-cache.js';
import type { PersistentCacheSchedulerClient } from '../../../protocol/rpc/persistent-cache-clients.js';
import type { VortexClient } from '../../../protocol/vortex/index.js';
import { formatBytes } from '../../../task/piece-length.js';
import { persistentCacheTaskIdOf } from '../../../task/persistent-cache-task-id.js';
import { OutputWriter } from '../download/output-writer.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import { CacheFetcher, type CacheSource } from './cache-fetcher.js';
import { CacheImporter } from './cache-importer.js';
import { CacheMetaStore, expiresAt, type CacheMeta } from './cache-meta-store.js';

export interface PeerPersistentCacheOptions {
  config: PeerConfig;
  /** The peer's folder. */
  dir: string;
  catalog: TaskCatalog;
  vortex: Pick<VortexClient, 'openPiece'>;
  scheduler: PersistentCacheSchedulerClient;
  hostId: () => string;
  logger: Logger;
}

/** How often copies are checked against their TTL. */
const EXPIRY_CHECK_MS = 1_000;
/** Progress events at most this often. */
const PROGRESS_EVERY_MS = 200;

/**
 * The peer's persistent cache: imports files as pinned persistent-cache tasks, exports them (a
 * copy fetched from the holders the scheduler names when this peer holds none), keeps what it
 * holds in step with the scheduler (an announce every `persistentCache.announceInterval`, with its
 * free room), fetches or pins replicas the scheduler places here, and removes every copy at its
 * TTL even when no scheduler says so. Copies survive restarts: their pieces are in the medium,
 * their facts in CacheMetaStore.
 */
export class PeerPersistentCache implements CacheApi, Startable {
  private readonly metas: CacheMetaStore;
  private readonly importer: CacheImporter;
  private readonly fetcher: CacheFetcher;
  private readonly output: OutputWriter;
  /** Imports and fetches under way, by task id. */
  private readonly busy = new Map<string, Promise<unknown>>();
  private announceTimer?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;
  private announcing?: Promise<void>;

  constructor(private readonly o: PeerPersistentCacheOptions) {
    this.metas = new CacheMetaStore(join(o.dir, 'persistent-cache'));
    const pc = o.config.persistentCache;
    this.importer = new CacheImporter(o.catalog, o.catalog.medium, {
      minTtl: pc.minTtl, maxTtl: pc.maxTtl, maxReplicas: pc.maxReplicas, pieceLengthMin: o.config.download.pieceLengthMin,
    });
    this.fetcher = new CacheFetcher(o.vortex, o.catalog.medium, o.logger, o.config.download.concurrency);
    this.output = new OutputWriter(o.catalog);
  }

  /** True for a task this peer holds (or is bringing in) as a persistent-cache task. */
  isCacheTask(taskId: string): boolean {
    return this.metas.get(taskId) !== undefined || this.busy.has(taskId);
  }

  async start(): Promise<void> {
    const metas = await this.metas.load();
    const medium = this.o.catalog.medium;
    for (const m of metas) {
      const rec = await medium.getTask(m.taskId);
      if (!rec?.finished) await this.drop(m.taskId, 'its pieces are gone');
    }
    for (const rec of await medium.listTasks()) {
      if (rec.url === undefined && !this.metas.get(rec.taskId)) {
        await medium.deleteTask(rec.taskId).catch(() => undefined);
        this.o.logger.info({ taskId: rec.taskId }, 'unfinished persistent cache copy removed');
      }
    }
    await this.expire();
    this.expiryTimer = setInterval(() => void this.expire(), EXPIRY_CHECK_MS);
    this.expiryTimer.unref();
    this.announceTimer = setInterval(() => void this.announce(), this.o.config.persistentCache.announceInterval);
    this.announceTimer.unref();
    void this.announce();
    if (this.metas.list().length) this.o.logger.info({ copies: this.metas.list().length }, 'persistent cache copies kept');
  }

  async stop(): Promise<void> {
    clearInterval(this.announceTimer);
    clearInterval(this.expiryTimer);
    await this.announcing?.catch(() => undefined);
    this.o.scheduler.close();
  }

  async import(req: CacheImportRequest, onEvent?: (ev: CacheEvent) => void, signal: AbortSignal = new AbortController().signal): Promise<CacheTaskView> {
    const progress = throttled(onEvent);
    const checked = await this.importer.check(req);
    const { taskId, digest } = await this.importer.taskIdOf(req, checked.size, checked.stamp, progress, signal);
    const held = this.metas.get(taskId);
    if (held && (await this.o.catalog.find(taskId))?.finished) return this.stat(taskId);
    if (this.busy.has(taskId)) {
      throw new D7yError('D7Y_CONFLICT', `persistent cache task ${taskId} is being imported or fetched on this peer already`, { fix: 'wait for it to end, then try again' });
    }
    const work = this.importInto(req, taskId, { ...checked, digest }, progress, signal);
    this.busy.set(taskId, work);
    try {
      return await work;
    } finally {
      this.busy.delete(taskId);
    }
  }

  private async importInto(req: CacheImportRequest, taskId: string, o: Parameters<CacheImporter['write']>[2], progress: ReturnType<typeof throttled>,
    signal: AbortSignal): Promise<CacheTaskView> {
    const hostId = this.o.hostId();
    const now = Date.now();
    const scheduled = this.o.scheduler.available;
    const draft = this.importer.meta(req, taskId, { ...o, digest: o.digest ?? '' }, now);
    if (scheduled) await this.o.scheduler.uploadStarted(hostId, hostId, factsOf(draft));
    const state = await this.o.catalog.state(taskId);
    try {
      const digest = await this.importer.write(req, state, o, progress, signal);
      const meta = { ...draft, digest };
      await this.metas.put(meta);
      if (!scheduled) return this.localView(meta, true);
      const task = await this.o.scheduler.uploadFinished(hostId, hostId, factsOf(meta));
      this.o.logger.info({ taskId, bytes: meta.contentLength, replicas: meta.replicas }, 'persistent cache task imported');
      return this.viewOf(task, true);
    } catch (err) {
      await this.drop(taskId, 'the import failed').catch(() => undefined);
      await this.o.catalog.discard(state);
      if (scheduled) await this.o.scheduler.uploadFailed(hostId, hostId, taskId, (err as Error).message).catch(() => undefined);
      throw err;
    }
  }

  async export(req: CacheExportRequest, onEvent?: (ev: CacheEvent) => void, signal: AbortSignal = new AbortController().signal): Promise<CacheTaskView> {
    const taskId = persistentCacheTaskIdOf(req.id);
    if (req.output) await checkOutputPath(req.output, req.overwrite ?? false);
    const timed = req.timeoutMs ? AbortSignal.any([signal, AbortSignal.timeout(req.timeoutMs)]) : signal;
    let view: CacheTaskView;
    const meta = this.metas.get(taskId);
    if (meta && (await this.o.catalog.find(taskId))?.finished) {
      view = await this.stat(req.id).catch(() => this.localView(meta, true));
    } else {
      const task = await this.clusterTask(req.id, taskId);
      await this.bringIn(task, false, throttled(onEvent), timed);
      view = this.viewOf(task, true);
    }
    if (!req.output) return view;
    const state = await this.o.catalog.state(taskId);
    await this.output.write(state, req.output, { overwrite: req.overwrite ?? false, mode: 'clone', signal: timed });
    return { ...view, output: req.output };
  }

  async stream(id: string): Promise<Readable> {
    const taskId = persistentCacheTaskIdOf(id);
    const state = await this.o.catalog.find(taskId);
    if (!this.metas.get(taskId) || !state?.finished) {
      throw new D7yError('D7Y_TASK_NOT_FOUND', `persistent cache task ${id} is not on this peer`, { fix: 'export it first (d7y cache export <id> -O -)' });
    }
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    void (async () => {
      for (let n = 0; n < (state.totalPieces ?? 0); n += 1) await pipeline(await this.o.catalog.medium.readPiece(taskId, n), out, { end: false });
      out.end();
    })().catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  async stat(id: string): Promise<CacheTaskView> {
    const taskId = persistentCacheTaskIdOf(id);
    const meta = this.metas.get(taskId);
    if (this.o.scheduler.available) {
      try {
        return this.viewOf(await this.o.scheduler.stat(taskId), meta !== undefined);
      } catch (err) {
        if (!meta || !isD7yError(err, 'D7Y_SCHEDULER_UNAVAILABLE')) throw named(err, id, taskId);
      }
    }
    if (!meta) throw notHere(id);
    return this.localView(meta, true);
  }

  async remove(id: string): Promise<{ taskId: string; removedCopies: number }> {
    const taskId = persistentCacheTaskIdOf(id);
    const here = this.metas.get(taskId) !== undefined;
    let removedCopies = 0;
    if (this.o.scheduler.available) {
      try {
        removedCopies = await this.o.scheduler.delete(taskId);
      } catch (err) {
        if (!here) throw named(err, id, taskId);
      }
    } else if (!here) throw notHere(id);
    if (this.metas.get(taskId)) {
      await this.drop(taskId, 'deleted');
      removedCopies = Math.max(removedCopies, 1);
    }
    return { taskId, removedCopies };
  }

  async push(req: CachePushRequest): Promise<{ taskId: string; outcomes: CachePushOutcome[] }> {
    const taskId = persistentCacheTaskIdOf(req.id);
    if (!this.o.scheduler.available) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'this peer has no scheduler, so it has no other peers to push to', {
        fix: 'give the peer schedulers (peer.schedulers or peer.manager in its config), or use d7y up',
      });
    }
    const outcomes = await this.o.scheduler.push({
      taskId, hostId: this.o.hostId(), all: req.all ?? false, count: req.count ?? 0, percentage: req.percentage ?? 0, ips: req.ips ?? [],
    }).catch((err: unknown) => { throw named(err, req.id, taskId); });
    return {
      taskId,
      outcomes: outcomes.filter((o) => o.host).map((o) => ({
        hostId: o.host!.id, ip: o.host!.ip, hostname: o.host!.hostname, ok: o.ok, alreadyHeld: o.alreadyHeld, error: o.error || undefined,
      })),
    };
  }

  async list(): Promise<CacheTaskView[]> {
    const views = new Map<string, CacheTaskView>();
    if (this.o.scheduler.available) {
      for (const t of await this.o.scheduler.list()) views.set(t.id, this.viewOf(t, this.metas.get(t.id) !== undefined));
    }
    for (const m of this.metas.list()) if (!views.has(m.taskId)) views.set(m.taskId, this.localView(m, true));
    return [...views.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * The scheduler places a replica here: a copy held is pinned in place; otherwise one is fetched
   * in the background. Refused with D7Y_STORAGE_FULL when the peer has no room for it.
   */
  async place(taskId: string, persistent: boolean): Promise<boolean> {
    const meta = this.metas.get(taskId);
    if (meta) {
      if (persistent && !meta.persistent) await this.pin(meta);
      return true;
    }
    const running = this.busy.get(taskId);
    if (running) {
      // An export (or import) of the same task is under way here: once it ends, the copy it left is
      // pinned, or fetched again if it left none. Otherwise the scheduler would wait on this
      // placement until its time-out while the peer holds an unpinned copy.
      void running.catch(() => undefined).then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(() => this.place(taskId, persistent))
        .catch((err: unknown) => this.replicaFailed(taskId, err));
      return false;
    }
    const task = await this.o.scheduler.stat(taskId);
    await this.checkRoom(task);
    void this.bringIn(task, persistent, () => undefined, new AbortController().signal)
      .then(() => this.announce())
      .catch((err: unknown) => this.replicaFailed(taskId, err));
    return false;
  }

  /** A replica placed here could not be fetched: the scheduler is told, to place it elsewhere. */
  private async replicaFailed(taskId: string, err: unknown): Promise<void> {
    this.o.logger.warn({ taskId, err: (err as Error).message }, 'persistent cache replica could not be fetched');
    const hostId = this.o.hostId();
    await this.o.scheduler.uploadFailed(hostId, hostId, taskId, (err as Error).message).catch(() => undefined);
  }

  /** The scheduler says the task is gone: the copy is removed. */
  async forget(taskId: string, why: string): Promise<boolean> {
    const held = this.metas.get(taskId) !== undefined;
    if (held) await this.drop(taskId, why);
    return held;
  }

  /** Brings a copy of `task` here from its holders (one fetch per task however many ask). */
  private bringIn(task: PersistentCacheTask, persistent: boolean, progress: ReturnType<typeof throttled>, signal: AbortSignal): Promise<void> {
    const running = this.busy.get(task.id);
    if (running) return running.then(() => undefined);
    const work = this.fetchCopy(task, persistent, progress, signal);
    this.busy.set(task.id, work);
    return work.finally(() => this.busy.delete(task.id));
  }

  private async fetchCopy(task: PersistentCacheTask, persistent: boolean, progress: ReturnType<typeof throttled>, signal: AbortSignal): Promise<void> {
    await this.checkRoom(task);
    const me = this.o.hostId();
    const sources: CacheSource[] = task.holders.filter((h) => h.host && h.host.id !== me)
      .map((h) => ({ hostId: h.host!.id, ip: h.host!.ip, uploadPort: h.host!.uploadPort }));
    const state = await this.o.catalog.state(task.id);
    try {
      state.record = await this.o.catalog.medium.putTask({ taskId: task.id, contentLength: task.contentLength, pieceLength: task.pieceLength, pinned: persistent });
      await this.fetcher.fetch(state, sources, (bytes) => progress({ phase: 'exporting', bytes, total: task.contentLength }), signal);
      await this.fetcher.checkWhole(state, task.digest, signal);
      state.record = await this.o.catalog.medium.putTask({ ...state.record, finished: true, pinned: persistent, digest: task.digest });
      await this.metas.put({ ...metaOf(task), persistent });
      this.o.logger.info({ taskId: task.id, persistent, from: sources.map((s) => s.hostId) }, 'persistent cache copy fetched');
      void this.announce();
    } catch (err) {
      await this.o.catalog.discard(state);
      throw err;
    }
  }

  private async checkRoom(task: PersistentCacheTask): Promise<void> {
    const { freeBytes } = await this.o.catalog.medium.stats();
    if (freeBytes < task.contentLength) {
      throw new D7yError('D7Y_STORAGE_FULL', `no room for persistent cache task ${task.id} (${formatBytes(task.contentLength)}) on this peer: ${formatBytes(freeBytes)} free`, {
        fix: 'free space in the peer data directory (d7y cache rm, d7y task rm), or export on a peer with more room',
      });
    }
  }

  private async pin(meta: CacheMeta): Promise<void> {
    const rec = await this.o.catalog.medium.getTask(meta.taskId);
    if (rec) await this.o.catalog.medium.putTask({ ...rec, pinned: true });
    await this.metas.put({ ...meta, persistent: true });
    void this.announce();
  }

  private async clusterTask(id: string, taskId: string): Promise<PersistentCacheTask> {
    if (!this.o.scheduler.available) throw notHere(id);
    try {
      return await this.o.scheduler.stat(taskId);
    } catch (err) {
      throw named(err, id, taskId);
    }
  }

  /** Tells the schedulers what this peer holds and how much room it has; removes what they say is gone. */
  private announce(): Promise<void> {
    if (!this.o.scheduler.available || this.announcing) return this.announcing ?? Promise.resolve();
    this.announcing = (async () => {
      const { freeBytes } = await this.o.catalog.medium.stats();
      const held = this.metas.list().map((m) => ({ task: factsOf(m), persistent: m.persistent }));
      const removed = await this.o.scheduler.announce(this.o.hostId(), freeBytes, held, [...this.busy.keys()]);
      for (const id of new Set(removed)) await this.forget(id, 'the scheduler says it was deleted or expired');
    })().catch((err: unknown) => this.o.logger.debug({ err: (err as Error).message }, 'persistent cache announce failed'))
      .finally(() => { this.announcing = undefined; });
    return this.announcing;
  }

  private async expire(): Promise<void> {
    const now = Date.now();
    for (const m of this.metas.list()) {
      if (expiresAt(m) <= now && !this.busy.has(m.taskId)) await this.drop(m.taskId, 'its TTL ran out').catch(() => undefined);
    }
  }

  private async drop(taskId: string, why: string): Promise<void> {
    await this.metas.delete(taskId);
    const state = await this.o.catalog.find(taskId);
    if (state && !state.running) await this.o.catalog.delete(taskId).catch(() => undefined);
    else if (!state) await this.o.catalog.medium.deleteTask(taskId).catch(() => undefined);
    this.o.logger.info({ taskId, why }, 'persistent cache copy removed');
  }

  private localView(m: CacheMeta, heldHere: boolean): CacheTaskView {
    return {
      taskId: m.taskId, name: m.name, contentLength: m.contentLength, pieceLength: m.pieceLength, pieceCount: m.pieceCount, digest: m.digest,
      tag: m.tag || undefined, application: m.application || undefined, replicas: m.replicas, ttlMs: m.ttlMs, createdAt: m.createdAt,
      expiresAt: expiresAt(m), heldHere, source: 'local',
    };
  }

  private viewOf(t: PersistentCacheTask, heldHere: boolean): CacheTaskView {
    return {
      taskId: t.id, name: t.name || undefined, contentLength: t.contentLength, pieceLength: t.pieceLength, pieceCount: t.pieceCount, digest: t.digest,
      tag: t.tag || undefined, application: t.application || undefined, replicas: t.persistentReplicaCount,
      currentReplicas: t.currentPersistentReplicaCount, ttlMs: t.ttl, createdAt: t.createdAt, expiresAt: t.createdAt + t.ttl, heldHere, source: 'scheduler',
      holders: t.holders.filter((h) => h.host).map((h) => ({ hostId: h.host!.id, ip: h.host!.ip, hostname: h.host!.hostname, persistent: h.persistent })),
    };
  }
}

/** The facts of a copy as the scheduler protocol carries them. */
function factsOf(m: CacheMeta): PersistentCacheTask {
  return {
    id: m.taskId, name: m.name ?? '', persistentReplicaCount: m.replicas, currentPersistentReplicaCount: 0, currentReplicaCount: 0,
    tag: m.tag ?? '', application: m.application ?? '', pieceLength: m.pieceLength, contentLength: m.contentLength, pieceCount: m.pieceCount,
    digest: m.digest, state: 'succeeded', ttl: m.ttlMs, createdAt: m.createdAt, updatedAt: m.createdAt, holders: [],
  };
}

function metaOf(t: PersistentCacheTask): Omit<CacheMeta, 'persistent'> {
  return {
    taskId: t.id, name: t.name || undefined, tag: t.tag || undefined, application: t.application || undefined, contentLength: t.contentLength,
    pieceLength: t.pieceLength, pieceCount: t.pieceCount, digest: t.digest, replicas: t.persistentReplicaCount, ttlMs: t.ttl, createdAt: t.createdAt,
  };
}

function notHere(id: string): D7yError {
  return new D7yError('D7Y_TASK_NOT_FOUND', `no persistent cache task ${id} on this peer, and it has no scheduler to ask`, {
    fix: 'check the id (d7y cache list), or give the peer its schedulers (peer.schedulers)',
  });
}

/** A scheduler's not-found error, naming the id the user gave when it was a name. */
function named(err: unknown, id: string, taskId: string): D7yError {
  const e = toD7yError(err);
  if (id === taskId || e.code !== 'D7Y_TASK_NOT_FOUND') return e;
  return new D7yError(e.code, e.message.replace(taskId, `${id} (${taskId})`), { fix: e.fix, cause: err });
}

/** Progress events at most every PROGRESS_EVERY_MS, and always at 100 %. */
function throttled(onEvent?: (ev: CacheEvent) => void): (p: { phase: 'hashing' | 'importing' | 'exporting'; bytes: number; total: number }) => void {
  let last = 0;
  return (p) => {
    if (!onEvent) return;
    const now = Date.now();
    if (now - last < PROGRESS_EVERY_MS && p.bytes < p.total) return;
    last = now;
    onEvent({ event: 'progress', ...p });
  };
}
