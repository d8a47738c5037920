import { hostname as osHostname } from 'node:os';
import type { NodeTls } from '../../protocol/tls/node-tls.js';
import type { ManagerLinkConfig } from '../../config/manager-link-config.js';
import type { Startable } from '../../contracts/startable.js';
import type { Logger } from '../../logging/logger.js';
import { ManagerClient, type PushedCommandView, type ReportedCacheTask } from '../../protocol/manager/manager-client.js';
import type { DownloadReports } from './download-reports.js';
import type { JobRunner } from './job-runner.js';
import { holdCommandChannel } from '../common/command-channel.js';

/** What the link reports of the scheduler's persistent cache, and how it carries out a delete asked on the manager. */
export interface CacheTaskSource {
  snapshot(): ReportedCacheTask[];
  knows(taskId: string): boolean;
  /** Deletes every copy of the task; resolves to the copies told to go. */
  delete(taskId: string): Promise<number>;
}

/** A report is sent whole at least this often even when nothing changed (a manager that lost it learns it again). */
const FULL_REPORT_MS = 30_000;

export interface ManagerLinkOptions {
  config: ManagerLinkConfig;
  /** TLS of the node, for an https manager. */
  tls?: NodeTls;
  ip: string;
  port: () => number;
  runner: JobRunner;
  logger: Logger;
  /** Ended downloads, sent to the manager every keepalive interval. */
  downloads?: DownloadReports;
  /** The persistent-cache tasks to report (none: not reported). */
  cacheTasks?: CacheTaskSource;
  /** Applies the cluster's dynamic config (evaluator, experiment, limits) in the scheduler. */
  onConfig?: (config: Record<string, unknown>) => Promise<unknown> | void;
  /** Carries out a pushed command (reload_config is the link's own); its result, or a throw for a failure. */
  onCommand?: (command: PushedCommandView, signal: AbortSignal) => Promise<Record<string, unknown>>;
}

/** How long one command wait is held by the manager before it is renewed. */
const COMMAND_WAIT_MS = 20_000;
const COMMAND_TIMEOUT_MS = 5 * 60_000;

/**
 * A scheduler's tie to the manager: registers into its cluster, keeps alive (applying the
 * cluster's dynamic config each time through `onConfig`, for the next scheduling round),
 * takes its cluster's jobs one at a time, reporting per-peer results, and holds the command
 * channel open (a long-poll the manager answers as soon as a command is issued), acknowledging each
 * command with its result. A manager that is down is retried; scheduling never waits for it.
 */
export class ManagerLink implements Startable {
  private readonly client: ManagerClient;
  private id?: string;
  private timers: NodeJS.Timeout[] = [];
  private busy = false;
  private readonly abort = new AbortController();
  private lastConfig = '';
  private warned = false;
  private reporting = false;
  private lastReport = '';
  private lastReportAt = 0;

  constructor(private readonly o: ManagerLinkOptions) {
    this.client = new ManagerClient({ url: o.config.url, token: o.config.token, tls: o.tls, ca: o.config.ca, caKey: 'scheduler.manager.ca' });
  }

  get schedulerId(): string | undefined {
    return this.id;
  }

  async start(): Promise<void> {
    await this.register().catch((err: unknown) => this.warn(err));
    this.timers.push(setInterval(() => void this.keepAlive(), this.o.config.keepaliveIntervalMs));
    this.timers.push(setInterval(() => void this.poll(), this.o.config.jobPollIntervalMs));
    this.timers.push(setInterval(() => void this.sendDownloads(), Math.min(this.o.config.keepaliveIntervalMs, 2000)));
    if (this.o.cacheTasks) this.timers.push(setInterval(() => void this.reportCacheTasks(), this.o.config.persistentCacheReportInterval));
    for (const t of this.timers) t.unref();
    if (this.o.onCommand) void this.listen();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.sendDownloads();
    this.abort.abort();
    this.o.runner.close();
    await this.client.close();
  }

  private async register(): Promise<void> {
    const r = await this.client.registerScheduler({ cluster: this.o.config.cluster, hostname: osHostname(), ip: this.o.ip, port: this.o.port() });
    this.id = r.id;
    this.apply(r.config);
    this.o.logger.info({ schedulerId: r.id, clusterId: r.cluster_id }, 'scheduler registered with the manager');
  }

  private async keepAlive(): Promise<void> {
    try {
      if (!this.id) return await this.register();
      this.apply((await this.client.keepAliveScheduler(this.id)).config);
      this.warned = false;
    } catch (err) {
      if ((err as { code?: string }).code === 'D7Y_NOT_FOUND') this.id = undefined;
      this.warn(err);
    }
  }

  /** The command channel (reload_config is the link's own), until stopped. */
  private listen(): Promise<void> {
    return holdCommandChannel({
      signal: this.abort.signal, logger: this.o.logger, timeoutMs: COMMAND_TIMEOUT_MS, onError: (err) => this.warn(err),
      wait: (signal) => {
        if (!this.id) throw new Error('not registered yet');
        return this.client.waitCommands(this.id, COMMAND_WAIT_MS, signal);
      },
      run: async (c, signal) => (c.type === 'reload_config' ? this.reloadConfig() : this.o.onCommand!(c, signal)),
      ack: (id, ack) => this.client.ackCommand(id, { scheduler_id: this.id!, ...ack }),
    });
  }

  /** Fetches the cluster's dynamic config now and applies it, even when unchanged. */
  private async reloadConfig(): Promise<Record<string, unknown>> {
    const { config } = await this.client.keepAliveScheduler(this.id!);
    this.lastConfig = JSON.stringify(config ?? {});
    const changed = await this.o.onConfig?.(config ?? {});
    return { changed: Array.isArray(changed) ? changed : [] };
  }

  private apply(config: Record<string, unknown> | undefined): void {
    const text = JSON.stringify(config ?? {});
    if (text === this.lastConfig) return;
    this.lastConfig = text;
    void Promise.resolve(this.o.onConfig?.(config ?? {})).catch((err: unknown) => this.o.logger.warn({ err: String(err) }, 'dynamic config could not be applied'));
  }

  private async poll(): Promise<void> {
    if (this.busy || !this.id) return;
    this.busy = true;
    try {
      for (;;) {
        const { job } = await this.client.claimJob(this.id);
        if (!job) break;
        this.o.logger.info({ jobId: job.id, type: job.type }, 'running manager job');
        const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(job.timeout_ms)]);
        const out = await this.o.runner.run(job, signal);
        await this.client.reportJob(job.id, { scheduler_id: this.id, state: out.state, results: out.results, error: out.error });
      }
    } catch (err) {
      this.warn(err);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Reports the persistent-cache tasks (whole when they changed or every FULL_REPORT_MS, else a
   * short call) and carries out the deletes the manager names, then reports again at once so the
   * manager sees them done.
   */
  private async reportCacheTasks(): Promise<void> {
    const source = this.o.cacheTasks;
    if (this.reporting || !this.id || !source) return;
    this.reporting = true;
    try {
      for (let round = 0; round < 2; round += 1) {
        const tasks = source.snapshot();
        const text = JSON.stringify(tasks);
        const whole = text !== this.lastReport || Date.now() - this.lastReportAt > FULL_REPORT_MS;
        const { delete_task_ids: asked } = await this.client.reportCacheTasks(this.id, whole ? tasks : undefined);
        if (whole) {
          this.lastReport = text;
          this.lastReportAt = Date.now();
        }
        const mine = asked.filter((id) => source.knows(id));
        if (mine.length === 0) break;
        for (const taskId of mine) {
          const told = await source.delete(taskId);
          this.o.logger.info({ taskId, told }, 'persistent cache task deleted as the manager asked');
        }
      }
    } catch (err) {
      this.warn(err);
    } finally {
      this.reporting = false;
    }
  }

  private sending = false;

  /** Sends the queued download reports, a batch at a time; kept for the next try when the manager refuses. */
  private async sendDownloads(): Promise<void> {
    const q = this.o.downloads;
    if (!q || this.sending || !this.id) return;
    this.sending = true;
    try {
      for (let batch = q.take(); batch.length > 0; batch = q.take()) {
        try {
          await this.client.reportDownloads(this.id, batch);
        } catch (err) {
          q.putBack(batch);
          throw err;
        }
      }
    } catch (err) {
      this.warn(err);
    } finally {
      this.sending = false;
    }
  }

  private warn(err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.o.logger.warn({ err: (err as Error).message }, 'manager unreachable or refused this scheduler; retrying');
  }
}
