import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { inject, injectable } from 'tsyringe';
import type { NodeConfig } from '../../config/node-config.js';
import type { Evaluator } from '../../contracts/evaluator.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { ExperimentRecorder } from './experiment/experiment-recorder.js';
import { JsonLinesOutcomeStore } from './experiment/experiment-outcome-store.js';
import { DfdaemonUploadClient } from '../../protocol/rpc/dfdaemon-upload-client.js';
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
import type { SchedulingPolicy } from './scheduling-policy.js';
import { SeedPeerTrigger } from './seed-peer-trigger.js';
import { JobRunner } from './job-runner.js';
import { ManagerLink } from './manager-link.js';

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
  /** The A/B experiment the policy names, if any: arms per download and outcome records. */
  readonly experiment?: ExperimentRecorder;
  private server?: Server;
  private gcTimer?: NodeJS.Timeout;
  private link?: ManagerLink;
  private boundPort = 0;

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
    this.seeds = new SeedPeerTrigger(new DfdaemonUploadClient(), logger, c.seedPeerDownloadTimeout, c.limits.maxTasks);
    if (policy.experiment) {
      this.experiment = new ExperimentRecorder(policy.experiment, new JsonLinesOutcomeStore(config.dataDir), logger);
    }
    const scheduling = new Scheduling(
      { candidateParentLimit: c.candidateParentLimit, filterParentLimit: c.filterParentLimit },
      (task, child) => this.evaluatorFor(task, child),
    );
    this.announcer = new PeerAnnouncer(this.resources, scheduling, this.seeds, {
      maxBackToSourcePeersPerTask: c.maxBackToSourcePeersPerTask, retryLimit: c.retryLimit, retryInterval: c.retryInterval,
      onDownloadEnded: this.experiment ? (task, peer, end) => this.experiment!.record(task, peer, end) : undefined,
    }, this.metrics, logger);
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
    };
  }

  async start(): Promise<void> {
    this.evaluators.get(this.policy.evaluator);
    for (const v of this.policy.experiment?.variants ?? []) this.evaluators.get(v.evaluator);
    const server = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    server.addService(SchedulerService, createSchedulerService({
      resources: this.resources, announcer: this.announcer, seeds: this.seeds, metrics: this.metrics, logger: this.logger,
      options: { hostTtl: this.config.scheduler.gc.hostTtl, maxStreams: this.config.scheduler.limits.maxStreams },
    }));
    const { host, port } = this.config.scheduler.listen;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => {
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
    const m = this.config.scheduler.manager;
    if (m) {
      this.link = new ManagerLink({ config: m, ip: this.config.scheduler.listen.host, port: () => this.boundPort,
        runner: new JobRunner(this.resources, new DfdaemonUploadClient()), policy: this.policy, evaluators: this.evaluators, logger: this.logger });
      await this.link.start();
    }
    this.logger.info(this.describe(), 'scheduler started');
  }

  async stop(): Promise<void> {
    await this.link?.stop();
    this.link = undefined;
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.gcTimer = undefined;
    this.announcer.close();
    this.seeds.close();
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
  }

  /** One GC pass: peers, tasks and hosts past their TTLs, and tasks without peers. */
  collectGarbage(now = Date.now()): { peers: number; tasks: number; hosts: number } {
    const r = this.resources.collect(now, this.config.scheduler.gc);
    this.metrics.hosts.set(this.resources.hosts.size);
    this.metrics.tasks.set(this.resources.tasks.size);
    if (r.peers + r.tasks + r.hosts > 0) this.logger.debug(r, 'scheduler gc');
    return r;
  }

  /** The evaluator ranking parents for this download: its experiment arm's, else the policy's. */
  private evaluatorFor(task: TaskRecord, child: PeerRecord): Evaluator {
    return this.evaluators.get(this.experiment?.evaluatorFor(task.id, child.host.id) ?? this.policy.evaluator);
  }
}
