import type { Logger, StorageGcReport } from '../../core/index.js';

export interface DiskGcSettings {
  /** Tasks not accessed for this many milliseconds are removed. */
  taskTtl: number;
  /** Percent of usage above which least recently used finished tasks are evicted… */
  highWatermark: number;
  /** …until usage is below this percent. */
  lowWatermark: number;
}

/** What GC needs to know about a task. */
export interface GcCandidate {
  taskId: string;
  lastAccessedAt: number;
  finished: boolean;
  pinned: boolean;
  /** A piece write is in flight. */
  busy: boolean;
}

/** The storage GC acts on. */
export interface DiskGcTarget {
  candidates(): GcCandidate[];
  /** Usage as a fraction (0..1) of the watched capacity. */
  usage(): Promise<number>;
  /** Removes the task; resolves with the bytes it held. */
  evict(taskId: string, reason: 'ttl' | 'watermark'): Promise<number>;
}

/**
 * Garbage collection of a disk cache. One pass removes every task whose last access is older than
 * the TTL, then, when usage is above the high watermark, evicts finished tasks least recently used
 * first until usage is below the low watermark. Pinned tasks and tasks being written are never
 * touched. Passes never overlap: a call during a pass waits for it and returns its report.
 */
export class DiskGc {
  private running?: Promise<StorageGcReport>;

  constructor(
    private readonly settings: DiskGcSettings,
    private readonly target: DiskGcTarget,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  run(): Promise<StorageGcReport> {
    this.running ??= this.pass().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async pass(): Promise<StorageGcReport> {
    const report: StorageGcReport = { evicted: [] };
    const now = this.now();
    for (const task of this.target.candidates()) {
      if (task.pinned || task.busy || now - task.lastAccessedAt <= this.settings.taskTtl) continue;
      report.evicted.push({ taskId: task.taskId, reason: 'ttl', bytes: await this.target.evict(task.taskId, 'ttl') });
    }
    let usage = await this.target.usage();
    if (usage * 100 > this.settings.highWatermark) {
      const lru = this.target.candidates().filter((c) => c.finished && !c.pinned && !c.busy)
        .sort((a, b) => a.lastAccessedAt - b.lastAccessedAt);
      for (const task of lru) {
        if (usage * 100 < this.settings.lowWatermark) break;
        report.evicted.push({ taskId: task.taskId, reason: 'watermark', bytes: await this.target.evict(task.taskId, 'watermark') });
        usage = await this.target.usage();
      }
      if (usage * 100 >= this.settings.lowWatermark) {
        this.logger.warn({ usagePercent: Math.round(usage * 100), lowWatermark: this.settings.lowWatermark },
          'disk storage GC could not get below the low watermark: the rest is pinned, unfinished or being written');
      }
    }
    if (report.evicted.length > 0) {
      this.logger.info({ evicted: report.evicted.length, bytes: report.evicted.reduce((n, e) => n + e.bytes, 0) }, 'disk storage GC pass');
    }
    return report;
  }
}
