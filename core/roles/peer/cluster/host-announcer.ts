import type { Startable } from '../../../contracts/startable.js';
import type { Logger } from '../../../logging/logger.js';
import type { Host } from '../../../protocol/rpc/gen/common.js';
import type { SchedulerClient } from '../../../protocol/rpc/scheduler-client.js';

/**
 * Announces this host to every scheduler at start and then every `intervalMs`, with live upload
 * load. A scheduler that is down is logged, never fatal: downloads fall back to the origin.
 * After start, schedulers that answer they did not know the host (restarted, or new) are handed
 * to `onNewHost`. On stop the host leaves the schedulers, so they stop sending children here.
 */
export class HostAnnouncer implements Startable {
  private timer?: NodeJS.Timeout;
  private warned = false;
  private started = false;
  private lastTaken?: number;

  constructor(private readonly scheduler: SchedulerClient, private readonly host: () => Host,
    private readonly intervalMs: number, private readonly logger: Logger,
    private readonly onNewHost?: (addresses: string[]) => void) {}

  async start(): Promise<void> {
    await this.announce();
    this.started = true;
    this.timer = setInterval(() => void this.announce(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const leave = this.scheduler.deleteHost(this.host().id).catch(() => undefined);
    await Promise.race([leave, new Promise((r) => setTimeout(r, 2_000).unref())]);
  }

  /** When a scheduler last took this host's announce (ms since the epoch), if ever. */
  get lastTakenAt(): number | undefined {
    return this.lastTaken;
  }

  /** One announce now; resolves whether or not a scheduler took it. */
  async announce(): Promise<boolean> {
    try {
      const fresh = await this.scheduler.announceHost(this.host(), { intervalMs: this.intervalMs * 3 });
      this.lastTaken = Date.now();
      if (this.started && fresh.length) this.onNewHost?.(fresh);
      if (this.warned) this.logger.info('schedulers reachable again');
      this.warned = false;
      return true;
    } catch (err) {
      if (!this.warned) this.logger.warn({ err: (err as Error).message }, 'cannot announce this host to the schedulers; downloads will use the origin until they answer');
      this.warned = true;
      return false;
    }
  }
}
