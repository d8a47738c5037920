import { performance } from 'node:perf_hooks';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import type { Download, Piece } from '../../protocol/rpc/gen/common.js';
import type { DownloadStats, HeldTask } from '../../protocol/rpc/gen/scheduler.js';
import type { DownloadEnd } from './experiment/experiment-recorder.js';
import type { HostRecord, PeerChannel, PeerRecord, TaskRecord } from './resource/records.js';
import { hasServingPeer, MAX_PIECES_PER_PEER } from './resource/records.js';
import type { SchedulerResources } from './resource/scheduler-resources.js';
import { PieceTrust } from './piece-trust.js';
import type { SchedulerBackToSourceReason, SchedulerMetrics } from './scheduler-metrics.js';
import type { Scheduling } from './scheduling.js';
import type { SeedHeld, SeedPeerTrigger } from './seed-peer-trigger.js';

export interface PeerAnnouncerOptions {
  maxBackToSourcePeersPerTask: number;
  retryLimit: number;
  retryInterval: number;
  /** Called once per download that finishes or fails (experiment outcomes). */
  onDownloadEnded?: (task: TaskRecord, peer: PeerRecord, end: DownloadEnd) => void;
}

export interface PeerIds {
  hostId: string;
  taskId: string;
  peerId: string;
}

/**
 * The scheduler's side of AnnouncePeer: registers peers, triggers seed peers, runs scheduling
 * rounds and keeps peer states from the reports. A peer without parents waits; it gets a new
 * round when the task gains a parent (a seed registers, a peer reports its first piece or
 * finishes) and on a backoff timer (`retryInterval` × round, with jitter). After `retryLimit`
 * rounds without parents it is sent back to the source if its download allows it and the task
 * is under `maxBackToSourcePeersPerTask`, else its stream fails.
 */
export class PeerAnnouncer {
  private readonly toWake = new Set<TaskRecord>();
  private wakeScheduled = false;
  /** Trusted piece digests and parents blocked for corrupt pieces. */
  readonly trust: PieceTrust;

  constructor(
    private readonly resources: SchedulerResources,
    private readonly scheduling: Scheduling,
    private readonly seeds: SeedPeerTrigger,
    private readonly options: PeerAnnouncerOptions,
    private readonly metrics: SchedulerMetrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.trust = new PieceTrust(resources, (task) => seeds.pick(task.id, resources.hosts.values(), this.now()) !== undefined, metrics, logger);
  }

  register(ids: PeerIds, download: Download, channel: PeerChannel): PeerRecord {
    const now = this.now();
    const host = this.resources.hosts.get(ids.hostId);
    if (!host) {
      throw new D7yError('D7Y_NOT_FOUND', `host ${ids.hostId} is not announced to this scheduler`, {
        fix: 'call AnnounceHost before AnnouncePeer',
      });
    }
    const task = this.resources.taskFor(ids.taskId, download, now);
    if (task.download.url !== download.url) task.download = download;
    const peer = this.resources.addPeer(task, host, ids.peerId, download, now);
    peer.channel = channel;
    if (host.type === 'super' || download.needBackToSource) {
      this.resources.setState(task, peer, 'back-to-source', now);
      peer.backToSourceReason = host.type === 'super' ? 'seed_peer' : 'requested';
      this.metrics.backToSource.inc({ reason: peer.backToSourceReason as SchedulerBackToSourceReason });
      channel.needBackToSource(host.type === 'super' ? 'seed peer downloads from the source' : 'the download asked for the source');
      this.wake(task);
      return peer;
    }
    this.trust.sendKnown(task, peer);
    // A live seed peer fetches the task whenever no seed digests are known, so children have digests to trust.
    if ((!hasServingPeer(task) || !this.trust.hasSeedDigests(task)) && task.seed !== 'triggered') this.triggerSeed(task);
    this.schedule(task, peer);
    return peer;
  }

  /**
   * A finished task the host already holds (announced after a restart, or to a new scheduler):
   * recorded as a succeeded peer holding every piece, a parent at once; peers waiting for the task
   * get a round. No stream, no download outcome. An announce of the same peer id refreshes it.
   * Throws D7Y_RATE_LIMITED when the scheduler's task or peer limits refuse it.
   */
  held(host: HostRecord, held: HeldTask & { download: Download }): PeerRecord {
    const now = this.now();
    const task = this.resources.taskFor(held.taskId, held.download, now);
    const known = task.peers.get(held.peerId);
    if (known && known.host === host && known.state === 'succeeded') {
      known.updatedAt = now;
      task.updatedAt = now;
      return known;
    }
    const peer = this.resources.addPeer(task, host, held.peerId, held.download, now);
    if (task.contentLength === 0) task.contentLength = held.contentLength;
    if (task.pieceLength === 0) task.pieceLength = held.pieceLength;
    if (task.pieceCount === 0) task.pieceCount = held.pieceCount;
    for (let n = 0; n < Math.min(held.pieceCount, MAX_PIECES_PER_PEER); n++) peer.finishedPieces.add(n);
    this.resources.setState(task, peer, 'succeeded', now);
    this.trust.record(task, host, held.pieceDigests.flatMap((digest, number) => (digest ? [{ number, digest }] : [])));
    this.wake(task);
    return peer;
  }

  started(task: TaskRecord, peer: PeerRecord): void {
    if (peer.state === 'pending' || peer.state === 'received-normal') this.resources.setState(task, peer, 'running', this.now());
  }

  /** The peer reads the origin; `description` starts with its reason code (`no_trusted_digest: …`) when it went on its own. */
  backToSourceStarted(task: TaskRecord, peer: PeerRecord, description = ''): void {
    peer.backToSourceReason ??= /^([a-z_]{1,32}): /.exec(description)?.[1] ?? 'peer_decided';
    this.resources.setState(task, peer, 'back-to-source', this.now());
    this.wake(task);
  }

  /**
   * A peer whose parents cannot serve it asks again. When some piece it lacks is held by no other
   * peer and nobody will bring it (no seed trigger under way, no peer reading the origin: the
   * seed peer was lost mid-download), this peer goes back to the source, within the task's
   * back-to-source limit, and the others fetch from it; else it gets a new round.
   */
  reschedule(task: TaskRecord, peer: PeerRecord, failedParentIds: string[]): void {
    for (const id of failedParentIds) this.resources.block(task, peer, id);
    if (peer.state === 'failed' || peer.state === 'succeeded') return;
    if (this.canBackToSource(task, peer) && lacksAnUnservedPiece(task, peer)) {
      this.clearRetry(peer);
      this.logger.info({ taskId: task.id, peerId: peer.id }, 'no peer holds or is fetching pieces this peer lacks; it goes back to the source');
      return this.sendBackToSource(task, peer, 'no_parent', 'no other peer holds or is fetching some of the pieces it lacks');
    }
    this.schedule(task, peer);
  }

  pieceFinished(task: TaskRecord, peer: PeerRecord, piece: Piece): void {
    const first = peer.finishedPieces.size === 0;
    this.resources.pieceFinished(task, peer, piece.number, piece.parentId || undefined, piece.cost, this.now());
    if (first) this.wake(task);
  }

  /** A piece the peer read from the origin: its digest may become the piece's trusted digest. */
  sourcePieceFinished(task: TaskRecord, peer: PeerRecord, piece: Piece): void {
    this.pieceFinished(task, peer, piece);
    if (peer.state === 'back-to-source') this.trust.record(task, peer.host, [piece]);
  }

  /** A piece failed from a parent; `corrupt` (its bytes differed from the trusted digest) blocks the parent's host for the task. */
  pieceFailed(task: TaskRecord, peer: PeerRecord, parentId: string, corrupt = false, pieceNumber = 0): void {
    if (!parentId) return;
    if (corrupt) this.trust.corrupt(task, peer, parentId, pieceNumber);
    this.resources.pieceFailed(task, peer, parentId, this.now());
  }

  finished(task: TaskRecord, peer: PeerRecord, contentLength: number, pieceCount: number, stats?: DownloadStats): void {
    const wasBackToSource = peer.state === 'back-to-source';
    if (contentLength > 0) task.contentLength = contentLength;
    if (pieceCount > 0) task.pieceCount = pieceCount;
    this.clearRetry(peer);
    this.resources.setState(task, peer, 'succeeded', this.now());
    this.options.onDownloadEnded?.(task, peer, { succeeded: true, contentLength, stats, wasBackToSource });
    this.wake(task);
  }

  failed(task: TaskRecord, peer: PeerRecord, stats?: DownloadStats): void {
    const wasBackToSource = peer.state === 'back-to-source';
    this.clearRetry(peer);
    this.resources.setState(task, peer, 'failed', this.now());
    if (task.state !== 'succeeded' && !hasServingPeer(task) && task.backToSource.size === 0) task.state = 'failed';
    this.options.onDownloadEnded?.(task, peer, { succeeded: false, contentLength: task.contentLength, stats, wasBackToSource });
    this.wake(task);
  }

  /** The stream of the peer ended: an unfinished peer leaves and is forgotten. */
  closed(task: TaskRecord, peer: PeerRecord): void {
    peer.channel = undefined;
    this.clearRetry(peer);
    if (peer.state === 'succeeded') return;
    if (peer.state !== 'failed') this.resources.setState(task, peer, 'leave', this.now());
    this.resources.deletePeer(task, peer);
    this.wake(task);
  }

  /** Called when the resources drop a peer (task or host deleted, GC). */
  forget(peer: PeerRecord): void {
    this.clearRetry(peer);
    const channel = peer.channel;
    peer.channel = undefined;
    channel?.fail('D7Y_NOT_FOUND', `peer ${peer.id} of task ${peer.taskId} was removed from the scheduler (task or host deleted, or expired)`,
      'register the download again');
  }

  /**
   * Runs one round for the peer and answers it, or makes it wait. Rounds woken by an event
   * (`counted` false) that find nothing do not use up the peer's retries.
   */
  schedule(task: TaskRecord, peer: PeerRecord, counted = true): void {
    if (!peer.channel || !['pending', 'received-normal', 'running'].includes(peer.state)) {
      this.clearRetry(peer);
      return;
    }
    const t0 = performance.now();
    const parents = this.scheduling.findParents(task, peer);
    this.metrics.roundSeconds.observe((performance.now() - t0) / 1000);
    this.metrics.rounds.inc({ result: parents.length > 0 ? 'found' : 'none' });
    if (parents.length > 0) {
      this.clearRetry(peer);
      peer.failedRounds = 0;
      task.waiting.delete(peer.id);
      if (peer.state === 'pending') this.resources.setState(task, peer, 'received-normal', this.now());
      peer.channel.normalTask(parents);
      for (const p of this.scheduling.introductions(task, peer, parents)) p.channel?.normalTask([peer]);
      return;
    }
    if (!counted && peer.retryTimer) return;
    this.clearRetry(peer);
    peer.failedRounds++;
    // A lost seed is replaced by one peer reading the origin; the others wait for its pieces.
    const sourceUnderWay = task.seed === 'triggered' || (task.seed === 'failed' && task.backToSource.size > 0);
    if (!sourceUnderWay && this.canBackToSource(task, peer)) return this.sendBackToSource(task, peer, 'no_parent', 'no parent holds the task yet');
    if (peer.failedRounds >= this.options.retryLimit) {
      if (this.canBackToSource(task, peer)) return this.sendBackToSource(task, peer, 'rounds_exhausted', `no parent after ${peer.failedRounds} scheduling rounds`);
      task.waiting.delete(peer.id);
      this.resources.setState(task, peer, 'failed', this.now());
      const why = peer.disableBackToSource ? 'back-to-source is disabled for this download'
        : `the task already has ${task.backToSource.size} peers back to the source, the limit`;
      this.metrics.backToSourceRefused.inc({ reason: peer.disableBackToSource ? 'disabled' : 'limit' });
      peer.channel.fail('D7Y_PEER_UNAVAILABLE', `no parent for peer ${peer.id} of task ${task.id} after ${peer.failedRounds} scheduling rounds, and ${why}`,
        'retry later, add seed peers, or allow back-to-source');
      return;
    }
    task.waiting.add(peer.id);
    const delay = this.options.retryInterval * peer.failedRounds * (0.9 + Math.random() * 0.2);
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = undefined;
      if (task.peers.get(peer.id) === peer) this.schedule(task, peer);
    }, delay);
    peer.retryTimer.unref();
  }

  /** Cancels timers; waiting peers are not answered any more. */
  close(): void {
    for (const task of this.resources.tasks.values()) for (const p of task.peers.values()) this.clearRetry(p);
    this.toWake.clear();
  }

  private canBackToSource(task: TaskRecord, peer: PeerRecord): boolean {
    return !peer.disableBackToSource && task.backToSource.size < this.options.maxBackToSourcePeersPerTask;
  }

  private sendBackToSource(task: TaskRecord, peer: PeerRecord, reason: SchedulerBackToSourceReason, description: string): void {
    task.waiting.delete(peer.id);
    peer.backToSourceReason = reason;
    this.metrics.backToSource.inc({ reason });
    this.resources.setState(task, peer, 'back-to-source', this.now());
    peer.channel?.needBackToSource(description);
  }

  private triggerSeed(task: TaskRecord): void {
    const seed = this.seeds.pick(task.id, this.resources.hosts.values(), this.now());
    if (!seed) return;
    const pieces = new Map<number, Piece>();
    const started = this.seeds.trigger(task, seed, (ok, _err, held) => {
      this.metrics.seedTriggers.inc({ result: ok ? 'succeeded' : 'failed' });
      if (this.resources.tasks.get(task.id) !== task) return;
      if (!ok) {
        task.seed = 'failed';
        this.trust.seedLost(task);
        this.wake(task);
      } else if (held) this.seedHolds(task, seed, held, pieces);
    }, (ps) => {
      for (const p of ps) pieces.set(p.number, p);
      if (this.resources.tasks.get(task.id) === task) this.trust.record(task, seed, ps);
    });
    if (started) task.seed = 'triggered';
  }

  /**
   * A triggered seed finished the task, but its own AnnouncePeer stream went to another scheduler
   * (it began before a failover) so no peer of its host is known here: it is recorded as holding
   * the task, as a held-task announce would, and becomes a parent at once.
   */
  private seedHolds(task: TaskRecord, seed: HostRecord, held: SeedHeld, pieces: Map<number, Piece>): void {
    if (!held.peerId || held.contentLength <= 0 || [...task.peers.values()].some((p) => p.host === seed)) return;
    const pieceLength = Math.max(...[...pieces.values()].map((p) => p.length), 0);
    if (pieceLength <= 0) return;
    const pieceCount = Math.ceil(held.contentLength / pieceLength);
    if (pieces.size < pieceCount) return;
    this.logger.info({ taskId: task.id, seedHost: seed.id }, 'the triggered seed peer holds the task: recorded as a parent');
    this.held(seed, {
      taskId: task.id, peerId: held.peerId, contentLength: held.contentLength, pieceLength, pieceCount,
      pieceDigests: [], download: task.download,
    });
  }

  private wake(task: TaskRecord): void {
    if (task.waiting.size === 0) return;
    this.toWake.add(task);
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      const tasks = [...this.toWake];
      this.toWake.clear();
      for (const t of tasks) {
        if (this.resources.tasks.get(t.id) !== t) continue;
        for (const id of [...t.waiting]) {
          const p = t.peers.get(id);
          if (p) this.schedule(t, p, false);
          else t.waiting.delete(id);
        }
      }
    });
  }

  private clearRetry(peer: PeerRecord): void {
    if (peer.retryTimer) clearTimeout(peer.retryTimer);
    peer.retryTimer = undefined;
  }
}

/**
 * True when the task's seed was lost and the peer lacks a piece that no other peer of the task holds
 * and nothing will bring: no peer (seed or not) is reading the origin or has finished.
 * While the piece count is unknown (no peer finished yet) nothing can bring a missing piece, and
 * the peer that asks again is stuck: true.
 */
export function lacksAnUnservedPiece(task: TaskRecord, peer: PeerRecord): boolean {
  // Only a seed lost mid-download leaves pieces nobody brings; otherwise the usual rounds decide.
  if (task.seed !== 'failed') return false;
  const others = [...task.peers.values()].filter((p) => p !== peer && p.state !== 'failed' && p.state !== 'leave');
  if (others.some((p) => p.state === 'succeeded' || p.state === 'back-to-source')) return false;
  if (task.pieceCount === 0) return true;
  for (let n = 0; n < task.pieceCount; n++) {
    if (!peer.finishedPieces.has(n) && !others.some((p) => p.finishedPieces.has(n))) return true;
  }
  return false;
}
