import { performance } from 'node:perf_hooks';
import type { Startable } from '../../../contracts/startable.js';
import type { TaskRecord } from '../../../contracts/storage-medium.js';
import type { Logger } from '../../../logging/logger.js';
import type { HeldTask } from '../../../protocol/rpc/gen/scheduler.js';
import type { SchedulerClient } from '../../../protocol/rpc/scheduler-client.js';
import { pieceCount } from '../../../task/piece-length.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';

export interface HeldTaskAnnouncerOptions {
  catalog: TaskCatalog;
  /** The scheduler client in use (the manager may replace or create it later). */
  scheduler: () => SchedulerClient | undefined;
  hostId: string;
  /** The peer id of every held copy: stable for this host, so a new announce replaces the old one. */
  peerId: string;
  /** Tasks per AnnounceHeldTasks call; one call in flight per scheduler. */
  batchSize: number;
  logger: Logger;
}

/** What one pass told the schedulers. */
export interface HeldTaskPass {
  tasks: number;
  accepted: number;
  /** Schedulers that could not be told (down, or refused); they are told again when they next see this host as new. */
  failed: string[];
}

/**
 * Tells the schedulers which finished tasks this peer holds on its disk, so that after a restart
 * (of the peer or of a scheduler) it is a parent of those tasks at once instead of unknown until
 * it downloads them again. Runs in the background: at start for every scheduler, on `announce()`
 * for the schedulers named (all when none are). Each task goes to the scheduler its id hashes to,
 * in batches of `batchSize`, one batch in flight per scheduler; requests made during a pass are
 * merged into one more pass. Tasks that leave the disk later are not announced by later passes;
 * the schedulers forget them as they forget any finished download's peer. Never throws.
 */
export class HeldTaskAnnouncer implements Startable {
  private pending?: Set<string> | 'all';
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly o: HeldTaskAnnouncerOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.announce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pending = undefined;
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, 2_000).unref())]);
  }

  /** Announces the held tasks to `addresses` (every scheduler when omitted), in the background. */
  announce(addresses?: readonly string[]): void {
    if (this.stopped) return;
    if (!addresses || this.pending === 'all') this.pending = 'all';
    else this.pending = new Set([...this.pending ?? [], ...addresses]);
    this.running ??= this.drain().finally(() => { this.running = undefined; });
  }

  /** Resolves when no pass runs or waits (for tests and an orderly stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending && !this.stopped) {
      const targets = this.pending;
      this.pending = undefined;
      const scheduler = this.o.scheduler();
      if (!scheduler) return;
      const t0 = performance.now();
      try {
        const pass = await this.pass(scheduler, targets === 'all' ? undefined : targets);
        if (pass.tasks === 0) continue;
        const line = { ...pass, ms: Math.round(performance.now() - t0) };
        if (pass.failed.length) this.o.logger.warn(line, 'held tasks announced to some schedulers only; the others get them when they next see this host');
        else this.o.logger.info(line, 'held tasks announced to the schedulers');
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'cannot list the held tasks to announce them to the schedulers');
      }
    }
  }

  /** One announce of every held task whose scheduler is in `targets` (all when undefined). */
  async pass(scheduler: SchedulerClient, targets?: ReadonlySet<string>): Promise<HeldTaskPass> {
    const byScheduler = new Map<string, HeldTask[]>();
    for (const record of await this.o.catalog.finished()) {
      const held = await this.heldTask(record);
      if (!held) continue;
      const address = scheduler.addressFor(record.taskId);
      if (targets && !targets.has(address)) continue;
      const list = byScheduler.get(address);
      if (list) list.push(held);
      else byScheduler.set(address, [held]);
    }
    const results = await Promise.all([...byScheduler].map(async ([address, tasks]) => {
      let accepted = 0;
      for (let i = 0; i < tasks.length && !this.stopped; i += this.o.batchSize) {
        try {
          accepted += await scheduler.announceHeldTasks(address, this.o.hostId, tasks.slice(i, i + this.o.batchSize));
        } catch (err) {
          this.o.logger.debug({ scheduler: address, err: (err as Error).message }, 'held tasks not announced');
          return { address, accepted, failed: true };
        }
      }
      return { address, accepted, failed: false };
    }));
    return {
      tasks: [...byScheduler.values()].reduce((n, ts) => n + ts.length, 0),
      accepted: results.reduce((n, r) => n + r.accepted, 0),
      failed: results.filter((r) => r.failed).map((r) => r.address),
    };
  }

  /**
   * The announce of one finished task, with the content digests of its pieces (checked when they
   * arrived, or computed from the origin); undefined when there is nothing a child could fetch
   * (empty, or no origin URL).
   */
  private async heldTask(r: TaskRecord & { contentLength: number }): Promise<HeldTask | undefined> {
    if (r.contentLength === 0 || !r.url || !URL.canParse(r.url)) return undefined;
    const count = pieceCount(r.contentLength, r.pieceLength);
    const pieceDigests = new Array<string>(count).fill('');
    for (const p of await this.o.catalog.medium.listPieces(r.taskId)) if (p.number < count) pieceDigests[p.number] = p.contentDigest ?? '';
    return {
      taskId: r.taskId, peerId: this.o.peerId, contentLength: r.contentLength, pieceLength: r.pieceLength,
      pieceCount: count, pieceDigests: pieceDigests.some(Boolean) ? pieceDigests : [],
      download: {
        url: r.url, digest: r.digest, tag: '', application: '', filteredQueryParams: [], requestHeader: {},
        disableBackToSource: false, needBackToSource: false, options: {}, contentLength: r.contentLength,
      },
    };
  }
}
