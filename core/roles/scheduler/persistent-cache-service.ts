import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { z } from 'zod';
import type { Startable } from '../../contracts/startable.js';
import type { Logger } from '../../logging/logger.js';
import type { PersistentCacheServer, PersistentCacheTask } from '../../protocol/rpc/gen/scheduler-persistent-cache.js';
import type { DfdaemonPersistentCacheClient } from '../../protocol/rpc/persistent-cache-clients.js';
import type { NodeTls } from '../../protocol/tls/node-tls.js';
import type { GrpcClientAuth } from '../../protocol/auth/grpc-auth.js';
import type { ReportedCacheTask } from '../../protocol/manager/manager-client.js';
import { HostType } from '../../protocol/rpc/gen/common.js';
import { toServiceError } from '../../protocol/rpc/grpc-errors.js';
import { PersistentCacheRegistry, type CacheTaskFacts, type PersistentCacheLimits, type Placement } from './persistent-cache-registry.js';
import { parseRequest } from './request-schemas.js';
import type { SchedulerResources } from './resource/scheduler-resources.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'is not 64 lower-case hex characters');
const hostId = z.string().min(1).max(512);
const FactsSchema = z.object({
  id: hex64,
  name: z.string().max(256),
  persistentReplicaCount: z.number().int().min(1).max(1000),
  tag: z.string().max(1024),
  application: z.string().max(1024),
  pieceLength: z.number().int().min(1),
  contentLength: z.number().int().min(0),
  pieceCount: z.number().int().min(0),
  digest: z.string().max(256),
  ttl: z.number().int().min(1),
  createdAt: z.number().int().min(0),
});
const UploadSchema = z.object({ hostId, peerId: z.string().max(512), task: FactsSchema.optional().refine((t) => t !== undefined, 'task is missing') });
const FailedSchema = z.object({ hostId, taskId: hex64, description: z.string().max(4096).optional() });
const TaskIdSchema = z.object({ taskId: hex64 });
const AnnounceSchema = z.object({
  hostId,
  diskFreeBytes: z.number().int().min(0),
  tasks: z.array(z.object({ task: FactsSchema.optional().refine((t) => t !== undefined, 'task is missing'), persistent: z.boolean() })).max(10_000),
  fetchingTaskIds: z.array(hex64).max(10_000),
});

/** Tasks one report to the manager carries at most (its body limit). */
const MAX_REPORTED = 1000;

export interface PersistentCacheOptions extends PersistentCacheLimits {
  /** How often replicas are checked (lost holders, missing replicas, TTLs). */
  checkInterval: number;
}

function facts(t: z.infer<typeof FactsSchema> | undefined): CacheTaskFacts {
  const f = t!;
  return { ...f, state: 'succeeded', updatedAt: f.createdAt };
}

function unary<Req, Res>(fn: (req: Req) => Res | Promise<Res>): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    Promise.resolve().then(() => fn(call.request)).then((res) => cb(null, res), (err: unknown) => cb(toServiceError(err)));
  };
}

/**
 * The scheduler's persistent cache: the gRPC calls of d7y.scheduler.v1.PersistentCache over a
 * PersistentCacheRegistry, and a timer that keeps each task's replica count (asking peers to
 * fetch a copy from the holders), removes every copy at the TTL and tells holders of a deleted
 * task to drop theirs. Holders that leave (DeleteHost, host TTL, no announce for holderTtl) are
 * replaced within about holderTtl + checkInterval.
 */
export class SchedulerPersistentCache implements Startable {
  readonly registry: PersistentCacheRegistry;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private truncationLogged = false;

  /** The cluster credential the scheduler presents to peers (none: an open cluster). */
  authenticate(auth: GrpcClientAuth | undefined, tls?: NodeTls): void {
    this.peers.authenticate(auth, tls);
  }

  constructor(
    private readonly resources: SchedulerResources,
    private readonly peers: DfdaemonPersistentCacheClient,
    private readonly options: PersistentCacheOptions,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.registry = new PersistentCacheRegistry(options);
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.tick(), this.options.checkInterval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.peers.close();
  }

  service(): PersistentCacheServer {
    const hostOf = (id: string) => this.resources.hosts.get(id);
    return {
      uploadPersistentCacheTaskStarted: unary((req) => {
        const r = parseRequest(UploadSchema, req, 'UploadPersistentCacheTaskStartedRequest');
        this.registry.started(facts(r.task), this.now());
        return {};
      }),
      uploadPersistentCacheTaskFinished: unary((req) => {
        const r = parseRequest(UploadSchema, req, 'UploadPersistentCacheTaskFinishedRequest');
        const task = this.registry.finished(r.hostId, facts(r.task), this.now(), hostOf);
        this.logger.info({ taskId: task.id, host: r.hostId, replicas: task.persistentReplicaCount }, 'persistent cache task imported');
        setImmediate(() => void this.tick());
        return task;
      }),
      uploadPersistentCacheTaskFailed: unary((req) => {
        const r = parseRequest(FailedSchema, req, 'UploadPersistentCacheTaskFailedRequest');
        if (this.registry.failed(r.taskId, r.hostId, this.now()) === 'replica') {
          this.logger.warn({ taskId: r.taskId, host: r.hostId, err: r.description }, 'persistent cache replica failed on the host; placing it elsewhere');
          setImmediate(() => void this.tick());
        }
        return {};
      }),
      statPersistentCacheTask: unary((req) => this.registry.stat(parseRequest(TaskIdSchema, req, 'StatPersistentCacheTaskRequest').taskId, hostOf)),
      listPersistentCacheTasks: unary(() => ({ tasks: this.registry.list(hostOf) })),
      deletePersistentCacheTask: unary(async (req) => {
        const { taskId } = parseRequest(TaskIdSchema, req, 'DeletePersistentCacheTaskRequest');
        return { deletedReplicaCount: await this.delete(taskId) };
      }),
      announcePersistentCachePeers: unary((req) => {
        const r = parseRequest(AnnounceSchema, req, 'AnnouncePersistentCachePeersRequest');
        const held = r.tasks.map((h) => ({ task: facts(h.task), persistent: h.persistent }));
        const removed = this.registry.announce(r.hostId, r.diskFreeBytes, held, r.fetchingTaskIds, this.now());
        return { removedTaskIds: removed };
      }),
    };
  }

  /** The tasks, for the manager's jobs and the scheduler's own tools. */
  list(): PersistentCacheTask[] {
    return this.registry.list((id) => this.resources.hosts.get(id));
  }

  /** Forgets the task and tells every host holding or fetching it to drop its copy; resolves to the hosts told. */
  async delete(taskId: string): Promise<number> {
    const holders = this.registry.delete(taskId, this.now());
    const told = await this.tellDelete(taskId, holders);
    this.logger.info({ taskId, holders: holders.length, told }, 'persistent cache task deleted');
    return told;
  }

  /** The tasks as the manager keeps them (newest first, at most MAX_REPORTED), with their holders. */
  report(): ReportedCacheTask[] {
    const tasks = this.list().sort((a, b) => b.createdAt - a.createdAt);
    if (tasks.length > MAX_REPORTED && !this.truncationLogged) {
      this.truncationLogged = true;
      this.logger.warn({ tasks: tasks.length, reported: MAX_REPORTED }, 'more persistent cache tasks than one manager report carries: the manager lists the newest');
    }
    return tasks.slice(0, MAX_REPORTED).map((t) => ({
      id: t.id, name: t.name, tag: t.tag, application: t.application, piece_length: t.pieceLength, content_length: t.contentLength,
      piece_count: t.pieceCount, digest: t.digest, state: t.state, persistent_replica_count: t.persistentReplicaCount, ttl_ms: t.ttl,
      created_at: t.createdAt, updated_at: t.updatedAt,
      peers: t.holders.filter((h) => h.host).map((h) => ({
        host_id: h.host!.id, hostname: h.host!.hostname, ip: h.host!.ip, port: h.host!.rpcPort, download_port: h.host!.uploadPort,
        type: h.host!.type === HostType.HOST_TYPE_SUPER ? 'super' as const : 'normal' as const, persistent: h.persistent, since: h.since,
      })),
    }));
  }

  /** One check: expiries, lost holders, missing replicas (placements run in the background). */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const { expired, placements } = this.registry.tick(this.now(), (id) => this.resources.hosts.get(id), this.resources.hosts.values());
      for (const e of expired) {
        this.logger.info({ taskId: e.taskId, holders: e.holders.length }, 'persistent cache task expired');
        void this.tellDelete(e.taskId, e.holders);
      }
      await Promise.all(placements.map((p) => this.place(p)));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'persistent cache check failed');
    } finally {
      this.ticking = false;
    }
  }

  private async place(p: Placement): Promise<void> {
    const address = `${p.host.ip}:${p.host.rpcPort}`;
    try {
      const held = await this.peers.download(address, p.taskId, true, p.host.controlKey);
      if (held) this.registry.holds(p.taskId, p.host.id, this.now());
      this.logger.info({ taskId: p.taskId, host: p.host.id, held }, 'persistent cache replica placed');
    } catch (err) {
      this.registry.refused(p.taskId, p.host.id, this.now());
      this.logger.info({ taskId: p.taskId, host: p.host.id, err: (err as Error).message }, 'persistent cache replica refused');
    }
  }

  private async tellDelete(taskId: string, holders: string[]): Promise<number> {
    const results = await Promise.allSettled(holders.map(async (id) => {
      const host = this.resources.hosts.get(id);
      if (!host) throw new Error(`host ${id} is gone`);
      return this.peers.delete(`${host.ip}:${host.rpcPort}`, taskId, host.controlKey);
    }));
    return results.filter((r) => r.status === 'fulfilled').length;
  }
}
