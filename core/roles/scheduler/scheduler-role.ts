import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Server } from '@grpc/grpc-js';
import { grpcServerCredentialsOf, NodeTls } from '../../protocol/tls/node-tls.js';
import type { Registry } from 'prom-client';
import { inject, injectable } from '../../di.js';
import type { NodeConfig } from '../../config/node-config.js';
import type { Evaluator } from '../../contracts/evaluator.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { ExperimentRecorder } from './experiment/experiment-recorder.js';
import { JsonLinesOutcomeStore } from './experiment/experiment-outcome-store.js';
import { DfdaemonUploadClient } from '../../protocol/rpc/dfdaemon-upload-client.js';
import type { ClusterAuth } from '../../protocol/auth/cluster-auth.js';
import { loadClusterAuth } from '../../protocol/auth/cluster-secrets.js';
import { GrpcAuthGuard, guardService } from '../../protocol/auth/grpc-auth.js';
import { SchedulerService } from '../../protocol/rpc/gen/scheduler.js';
import type { EvaluatorRegistry } from '../../registry/evaluator-registry.js';
import { Tokens } from '../../tokens.js';
import type { Role } from '../role.js';
import { PeerAnnouncer } from './peer-announcer.js';
import type { PeerRecord, TaskRecord } from './resource/records.js';
import { SchedulerResources } from './resource/scheduler-resources.js';
import { SchedulerMetrics } from './scheduler-metrics.js';
import { createSchedulerService } from './scheduler-service.js';
import { Scheduling } from './scheduling.js';
import { SchedulingPolicyToken } from './scheduling-policy-token.js';
import type { ExperimentConfig, SchedulingPolicy } from './scheduling-policy.js';
import { SeedPeerTrigger } from './seed-peer-trigger.js';
import { JobRunner } from './job-runner.js';
import { SchedulerPersistentCache } from './persistent-cache-service.js';
import { DfdaemonPersistentCacheClient } from '../../protocol/rpc/persistent-cache-clients.js';
import { PersistentCacheService } from '../../protocol/rpc/gen/scheduler-persistent-cache.js';
import { ManagerLink } from './manager-link.js';
import type { PushedCommandView } from '../../protocol/manager/manager-client.js';
import { managerToken } from '../../config/manager-link-config.js';
import { DownloadReports } from './download-reports.js';
import { MetricsServer, sendJson } from '../common/metrics-server.js';

/**
 * The scheduler: a gRPC server (d7y.scheduler.v1.Scheduler) on `scheduler.listen` that keeps
 * hosts, tasks and peers in memory, triggers seed peers and chooses parents with the evaluator
 * the scheduling policy names. `port` is the real port once started (listen port 0 = random).
 */
@injectable()
export class SchedulerRole implements Role {
  readonly name = 'scheduler' as const;
  /** The hosts, tasks and peers this scheduler knows (read-only use outside the role). */
  readonly resources: SchedulerResources;
  private readonly metrics: SchedulerMetrics;
  private readonly seeds: SeedPeerTrigger;
  private readonly announcer: PeerAnnouncer;
  /** Persistent-cache tasks, their holders and replicas. */
  readonly persistentCache: SchedulerPersistentCache;
  /** The A/B experiment the policy names, if any: arms per download and outcome records. */
  experiment?: ExperimentRecorder;
  private readonly schedulingOptions: { candidateParentLimit: number; filterParentLimit: number };
  private readonly announcerOptions: ConstructorParameters<typeof PeerAnnouncer>[3];
  private server?: Server;
  private gcTimer?: NodeJS.Timeout;
  private link?: ManagerLink;
  /** Ended downloads for the manager (when the scheduler has one). */
  private readonly downloads = new DownloadReports();
  private boundPort = 0;
  /** The small HTTP listener serving `/metrics`, `/healthz` and `/readyz` (scheduler.metrics); other routes may be added before start. */
  readonly metricsServer: MetricsServer;
  /** Calls to seed peers (triggers); presents the scheduler's credential once started. */
  private readonly dfdaemon = new DfdaemonUploadClient();
  private auth?: ClusterAuth;
  private tls?: NodeTls;

  constructor(
    @inject(Tokens.Config) private readonly config: NodeConfig,
    @inject(Tokens.Logger) private readonly logger: Logger,
    @inject(Tokens.Metrics) registry: Registry,
    @inject(Tokens.EvaluatorRegistry) private readonly evaluators: EvaluatorRegistry,
    @inject(SchedulingPolicyToken) private readonly policy: SchedulingPolicy,
  ) {
    const c = config.scheduler;
    this.metrics = new SchedulerMetrics(registry);
    this.resources = new SchedulerResources(c.limits, (peer) => this.announcer.forget(peer));
    const hosts = this.resources.hosts;
    this.metrics.observe(() => ({ hosts: hosts.size, tasks: this.resources.tasks.size, peers: sumOf(hosts.values(), (h) => h.peers.size) }));
    this.metricsServer = new MetricsServer({ config: c.metrics, registry, logger, configPath: 'scheduler.metrics', role: 'scheduler' });
    this.addReadiness();
    this.seeds = new SeedPeerTrigger(this.dfdaemon, logger, c.seedPeerDownloadTimeout, c.limits.maxTasks);
    if (policy.experiment) {
      this.experiment = new ExperimentRecorder(policy.experiment, new JsonLinesOutcomeStore(config.dataDir), logger);
    }
    this.schedulingOptions = { candidateParentLimit: c.candidateParentLimit, filterParentLimit: c.filterParentLimit };
    const scheduling = new Scheduling(this.schedulingOptions, (task, child) => this.evaluatorFor(task, child));
    this.announcerOptions = {
      maxBackToSourcePeersPerTask: c.maxBackToSourcePeersPerTask, retryLimit: c.retryLimit, retryInterval: c.retryInterval,
      onDownloadEnded: (task, peer, end) => {
        this.metrics.downloadEnded(end);
        const outcome = this.experiment?.record(task, peer, end);
        if (this.config.scheduler.manager) this.downloads.add(task, peer, end, outcome);
      },
    };
    this.announcer = new PeerAnnouncer(this.resources, scheduling, this.seeds, this.announcerOptions, this.metrics, logger);
    this.persistentCache = new SchedulerPersistentCache(this.resources, new DfdaemonPersistentCacheClient(), c.persistentCache, logger);
  }

  /** The port the gRPC server listens on (0 before start). */
  get port(): number {
    return this.boundPort;
  }

  describe(): Record<string, unknown> {
    return {
      listen: `${this.config.scheduler.listen.host}:${this.boundPort || this.config.scheduler.listen.port}`,
      evaluators: this.evaluators.names(),
      policy: this.policy.experiment ? `experiment ${this.policy.experiment.id}` : this.policy.evaluator,
      candidateParentLimit: this.schedulingOptions.candidateParentLimit,
      filterParentLimit: this.schedulingOptions.filterParentLimit,
      maxBackToSourcePeersPerTask: this.announcerOptions.maxBackToSourcePeersPerTask,
      clusterCredential: this.auth ? 'required' : 'none (open)',
      metrics: this.metricsServer.url ? `${this.metricsServer.url}/metrics` : 'off',
      tls: this.tls?.mode ?? 'none',
      ...(this.config.scheduler.manager && {
        manager: this.config.scheduler.manager.url.replace(/\/\/[^/@]*@/, '//'), cluster: this.config.scheduler.manager.cluster,
      }),
    };
  }

  /**
   * Applies the cluster's dynamic config from the manager, for the next scheduling round: the
   * evaluator, the experiment and the limits. A value that names an evaluator this scheduler has not
   * loaded is refused and logged; everything else keeps its current value. Returns what changed.
   */
  async applyDynamicConfig(config: Record<string, unknown>): Promise<string[]> {
    const changed: string[] = [];
    const int = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
    if (int(config.candidateParentLimit, 1, 20) && config.candidateParentLimit !== this.schedulingOptions.candidateParentLimit) {
      this.schedulingOptions.candidateParentLimit = config.candidateParentLimit as number;
      changed.push('candidateParentLimit');
    }
    if (int(config.filterParentLimit, 1, 1000) && config.filterParentLimit !== this.schedulingOptions.filterParentLimit) {
      this.schedulingOptions.filterParentLimit = config.filterParentLimit as number;
      changed.push('filterParentLimit');
    }
    if (int(config.maxBackToSourcePeersPerTask, 0, 10_000) && config.maxBackToSourcePeersPerTask !== this.announcerOptions.maxBackToSourcePeersPerTask) {
      this.announcerOptions.maxBackToSourcePeersPerTask = config.maxBackToSourcePeersPerTask as number;
      changed.push('maxBackToSourcePeersPerTask');
    }
    if (typeof config.evaluator === 'string' && config.evaluator !== this.policy.evaluator) {
      if (this.evaluators.has(config.evaluator)) {
        this.policy.evaluator = config.evaluator;
        changed.push('evaluator');
      } else this.logger.warn({ evaluator: config.evaluator }, 'dynamic config names an evaluator this scheduler has not loaded; kept the current one');
    }
    const exp = config.experiment as ExperimentConfig | undefined;
    if (exp && typeof exp === 'object' && exp.id !== this.policy.experiment?.id) {
      const unknown = (exp.variants ?? []).filter((v) => !this.evaluators.has(v.evaluator)).map((v) => v.evaluator);
      if (unknown.length) {
        this.logger.warn({ experiment: exp.id, unknown }, 'dynamic config experiment names evaluators this scheduler has not loaded; kept the current policy');
      } else {
        await this.experiment?.flush();
        this.policy.experiment = { id: exp.id, bucketBy: exp.bucketBy ?? 'task', variants: exp.variants };
        this.experiment = new ExperimentRecorder(this.policy.experiment, new JsonLinesOutcomeStore(this.config.dataDir), this.logger);
        changed.push('experiment');
      }
    }
    if (changed.length) this.logger.info({ changed, ...this.describe() }, 'dynamic config applied');
    return changed;
  }

  async start(): Promise<void> {
    this.evaluators.get(this.policy.evaluator);
    for (const v of this.policy.experiment?.variants ?? []) this.evaluators.get(v.evaluator);
    this.tls = await NodeTls.load(this.config.security.tls, { logger: this.logger, serves: true });
    this.auth = await loadClusterAuth(this.config.security, {
      seedRole: true, role: 'scheduler', logger: this.logger,
      manager: { link: this.config.scheduler.manager, key: 'scheduler.manager', cacheFile: join(this.config.dataDir, 'scheduler-manager-credential.json'), tls: this.tls },
    });
    const clientAuth = this.auth && { auth: this.auth };
    this.dfdaemon.authenticate(clientAuth, this.tls);
    this.persistentCache.authenticate(clientAuth, this.tls);
    const { host, port } = this.config.scheduler.listen;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const server = new Server({ 'grpc.max_receive_message_length': this.config.scheduler.limits.maxReceiveMessageSize });
    server.addService(SchedulerService, createSchedulerService({
      resources: this.resources, announcer: this.announcer, seeds: this.seeds, metrics: this.metrics, logger: this.logger,
      options: { hostTtl: this.config.scheduler.gc.hostTtl, maxStreams: this.config.scheduler.limits.maxStreams },
      guard: new GrpcAuthGuard(this.auth, this.logger, 'the scheduler'),
    }));
    server.addService(PersistentCacheService, guardService(this.persistentCache.service(), new GrpcAuthGuard(this.auth, this.logger, 'the scheduler'), 'member'));
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpcServerCredentialsOf(this.tls), (err, bound) => {
        if (err) {
          reject(new D7yError('D7Y_CONFIG_INVALID', `scheduler cannot listen on ${address}: ${err.message}`, {
            cause: err, fix: 'choose a free scheduler.listen.port (0 picks one)',
          }));
        } else resolve(bound);
      });
    });
    this.server = server;
    this.gcTimer = setInterval(() => this.collectGarbage(), this.config.scheduler.gc.interval);
    this.gcTimer.unref();
    await this.persistentCache.start();
    try {
      await this.metricsServer.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    const m = this.config.scheduler.manager;
    if (m) {
      const runner = new JobRunner(this.resources, new DfdaemonUploadClient({ auth: clientAuth, tls: this.tls }));
      this.link = new ManagerLink({ config: { ...m, token: await managerToken(m) }, tls: this.tls, ip: advertisedIp(this.config.scheduler.listen), port: () => this.boundPort,
        runner, logger: this.logger, downloads: this.downloads,
        cacheTasks: {
          snapshot: () => this.persistentCache.report(),
          knows: (taskId) => this.persistentCache.registry.has(taskId),
          delete: (taskId) => this.persistentCache.delete(taskId),
        },
        onConfig: (cfg) => this.applyDynamicConfig(cfg), onCommand: (c, signal) => this.runCommand(runner, c, signal) });
      await this.link.start();
    }
    this.logger.info(this.describe(), 'scheduler started');
  }

  /** Before a stop (SIGTERM): `/readyz` turns 503 so that nothing new is sent here. */
  async drain(): Promise<void> {
    this.metricsServer.drain();
  }

  async stop(): Promise<void> {
    await this.link?.stop();
    this.link = undefined;
    await this.metricsServer.stop();
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.gcTimer = undefined;
    this.announcer.close();
    this.seeds.close();
    await this.persistentCache.stop();
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(force); resolve(); });
      });
      this.logger.info('scheduler stopped');
    }
    await this.experiment?.flush();
    this.tls?.close();
  }

  /** `/readyz`: ready while the gRPC server serves; the manager link is reported apart, not required (scheduling never waits for it). */
  private addReadiness(): void {
    const ops = this.metricsServer;
    ops.readiness('grpc', () => (this.server ? { ok: true, detail: `serving on port ${this.boundPort}` } : { ok: false, detail: 'not serving' }));
    if (this.config.scheduler.manager) {
      ops.addRoute('/readyz/manager', (_req, res) => {
        const id = this.link?.schedulerId;
        sendJson(res, id ? 200 : 503, { registered: Boolean(id), schedulerId: id });
      });
    }
  }

  /** One GC pass: peers, tasks and hosts past their TTLs, and tasks without peers. */
  collectGarbage(now = Date.now()): { peers: number; tasks: number; hosts: number } {
    const r = this.resources.collect(now, this.config.scheduler.gc);
    if (r.peers + r.tasks + r.hosts > 0) this.logger.debug(r, 'scheduler gc');
    return r;
  }

  /** A command pushed by the manager (reload_config is the link's): its result, or a throw when it failed. */
  private async runCommand(runner: JobRunner, c: PushedCommandView, signal: AbortSignal): Promise<Record<string, unknown>> {
    if (c.type === 'run_gc') return { ...this.collectGarbage(), hosts_left: this.resources.hosts.size, tasks_left: this.resources.tasks.size };
    if (c.type === 'set_limits') {
      const changed = await this.applyDynamicConfig(c.args);
      return { changed, limits: { ...this.schedulingOptions, maxBackToSourcePeersPerTask: this.announcerOptions.maxBackToSourcePeersPerTask } };
    }
    if (c.type === 'delete_task') {
      const out = await runner.run({ id: c.id, type: 'delete_task', args: c.args, timeout_ms: 60_000 }, signal);
      if (out.state === 'failed') throw new Error(out.error ?? 'the task could not be deleted on every peer');
      return { peers: out.results };
    }
    throw new D7yError('D7Y_INVALID_ARGUMENT', `this scheduler does not know the command ${c.type as string}`, { fix: 'upgrade the scheduler' });
  }

  /** The evaluator ranking parents for this download: its experiment arm's, else the policy's. */
  private evaluatorFor(task: TaskRecord, child: PeerRecord): Evaluator {
    return this.evaluators.get(this.experiment?.evaluatorFor(task.id, child.host.id) ?? this.policy.evaluator);
  }
}

/**
 * The address peers should dial: `advertiseIp`, else the listen host, else (listening on every
 * address) the host's first non-loopback IPv4 address.
 */
function sumOf<T>(items: Iterable<T>, of: (item: T) => number): number {
  let sum = 0;
  for (const item of items) sum += of(item);
  return sum;
}

export function advertisedIp(listen: { host: string; advertiseIp?: string }, interfaces = networkInterfaces()): string {
  if (listen.advertiseIp) return listen.advertiseIp;
  if (listen.host !== '0.0.0.0' && listen.host !== '::' && listen.host !== '') return listen.host;
  const ip = Object.values(interfaces).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!ip) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the scheduler listens on ${listen.host} and this host has no non-loopback IPv4 address to tell the manager`, {
      fix: 'set scheduler.listen.advertiseIp to the address peers reach this scheduler at',
    });
  }
  return ip;
}
