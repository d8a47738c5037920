import { Metadata } from '@grpc/grpc-js';
import type { CallOptions, Client, ServiceError } from '@grpc/grpc-js';
import { D7yError } from '../../errors/d7y-error.js';
import { DfdaemonPersistentCacheClient as GrpcDfdaemonCacheClient, DfdaemonPersistentCacheService } from './gen/dfdaemon-persistent-cache.js';
import { PersistentCacheClient as GrpcSchedulerCacheClient } from './gen/scheduler-persistent-cache.js';
import type { HeldPersistentCacheTask, PersistentCacheTask, PushPersistentCacheOutcome, PushPersistentCacheTaskRequest } from './gen/scheduler-persistent-cache.js';
import { fromServiceError } from './grpc-errors.js';
import { grpcChannelCredentialsOf, type NodeTls } from '../tls/node-tls.js';
import { authChannelOptions, withControlProof, type GrpcClientAuth } from '../auth/grpc-auth.js';

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

/** Channels by address, with unary calls that fail as D7yErrors naming the address. */
class Channels<C extends Client> {
  private readonly clients = new Map<string, C>();

  constructor(
    private readonly make: (address: string) => C,
    private readonly what: string,
    private readonly unavailable: 'D7Y_SCHEDULER_UNAVAILABLE' | 'D7Y_PEER_UNAVAILABLE',
    private readonly maxChannels = 256,
  ) {}

  call<Res>(address: string, timeoutMs: number, invoke: (c: C, md: Metadata, o: Partial<CallOptions>, cb: Callback<Res>) => unknown): Promise<Res> {
    return new Promise((resolve, reject) => {
      invoke(this.client(address), new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(fromServiceError(err, `${this.what} ${address}`, this.unavailable));
        else resolve(res);
      });
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(address: string): C {
    let c = this.clients.get(address);
    if (!c) {
      c = this.make(address);
      this.clients.set(address, c);
      if (this.clients.size > this.maxChannels) {
        const [oldest, client] = this.clients.entries().next().value as [string, C];
        this.clients.delete(oldest);
        client.close();
      }
    }
    return c;
  }
}

/** Where a peer's persistent-cache calls go: the scheduler of a task (consistent hash), and all of them. */
export interface SchedulerRing {
  addressFor(taskId: string): string;
  readonly addresses: string[];
}

/**
 * A peer's persistent-cache calls to its schedulers (d7y.scheduler.v1.PersistentCache): a task's
 * calls go to the scheduler the ring names for its id; announces and listings go to every one.
 * Errors are D7yErrors naming the scheduler (D7Y_SCHEDULER_UNAVAILABLE when it cannot be reached).
 */
export class PersistentCacheSchedulerClient {
  private readonly channels = new Channels((a) => new GrpcSchedulerCacheClient(a, grpcChannelCredentialsOf(this.tls), {
    'grpc.keepalive_time_ms': 30_000, 'grpc.max_receive_message_length': 16 * 1024 * 1024, ...authChannelOptions(this.auth),
  }), 'scheduler', 'D7Y_SCHEDULER_UNAVAILABLE');

  /** `auth`: the cluster credential presented on every call (none: an open cluster). */
  constructor(private readonly ring: () => SchedulerRing | undefined, private readonly timeoutMs = 10_000, private readonly auth?: GrpcClientAuth,
    private readonly tls?: NodeTls) {}

  /** True when the peer has schedulers. */
  get available(): boolean {
    return this.ring() !== undefined;
  }

  uploadStarted(hostId: string, peerId: string, task: PersistentCacheTask): Promise<void> {
    return this.byTask(task.id, (c, md, o, cb) => c.uploadPersistentCacheTaskStarted({ hostId, peerId, task }, md, o, cb)).then(() => undefined);
  }

  uploadFinished(hostId: string, peerId: string, task: PersistentCacheTask): Promise<PersistentCacheTask> {
    return this.byTask(task.id, (c, md, o, cb) => c.uploadPersistentCacheTaskFinished({ hostId, peerId, task }, md, o, cb));
  }

  uploadFailed(hostId: string, peerId: string, taskId: string, description: string): Promise<void> {
    return this.byTask(taskId, (c, md, o, cb) => c.uploadPersistentCacheTaskFailed({ hostId, peerId, taskId, description }, md, o, cb)).then(() => undefined);
  }

  stat(taskId: string): Promise<PersistentCacheTask> {
    return this.byTask(taskId, (c, md, o, cb) => c.statPersistentCacheTask({ taskId }, md, o, cb));
  }

  async delete(taskId: string): Promise<number> {
    const r = await this.byTask<{ deletedReplicaCount: number }>(taskId, (c, md, o, cb) => c.deletePersistentCacheTask({ taskId }, md, o, cb));
    return r.deletedReplicaCount;
  }

  /** `d7y push`: the scheduler of the task asks the peers of the scope to fetch a copy now. */
  async push(req: PushPersistentCacheTaskRequest): Promise<PushPersistentCacheOutcome[]> {
    const r = await this.byTask<{ outcomes: PushPersistentCacheOutcome[] }>(req.taskId, (c, md, o, cb) => c.pushPersistentCacheTask(req, md, o, cb));
    return r.outcomes;
  }

  /** The tasks of every scheduler (one that cannot be reached is skipped unless all fail). */
  async list(): Promise<PersistentCacheTask[]> {
    const ring = this.need();
    const results = await Promise.allSettled(ring.addresses.map((a) =>
      this.channels.call<{ tasks: PersistentCacheTask[] }>(a, this.timeoutMs, (c, md, o, cb) => c.listPersistentCacheTasks({}, md, o, cb))));
    const ok = results.filter((r): r is PromiseFulfilledResult<{ tasks: PersistentCacheTask[] }> => r.status === 'fulfilled');
    if (ok.length === 0 && results.length > 0) throw (results[0] as PromiseRejectedResult).reason;
    return ok.flatMap((r) => r.value.tasks);
  }

  /** Announces what this host holds to every scheduler (each copy to its task's scheduler); resolves to the ids to remove. */
  async announce(hostId: string, diskFreeBytes: number, held: HeldPersistentCacheTask[], fetching: string[]): Promise<string[]> {
    const ring = this.need();
    const removed: string[] = [];
    await Promise.all(ring.addresses.map(async (address) => {
      const mine = held.filter((h) => ring.addressFor(h.task!.id) === address);
      const r = await this.channels.call<{ removedTaskIds: string[] }>(address, this.timeoutMs, (c, md, o, cb) =>
        c.announcePersistentCachePeers({ hostId, diskFreeBytes, tasks: mine, fetchingTaskIds: fetching.filter((id) => ring.addressFor(id) === address) }, md, o, cb))
        .catch(() => ({ removedTaskIds: [] }));
      removed.push(...r.removedTaskIds);
    }));
    return removed;
  }

  close(): void {
    this.channels.close();
  }

  private need(): SchedulerRing {
    const ring = this.ring();
    if (!ring) {
      throw new D7yError('D7Y_SCHEDULER_UNAVAILABLE', 'this peer has no scheduler, so the persistent cache of the cluster cannot be reached', {
        fix: 'set peer.schedulers (or peer.manager) in the peer config and restart it',
      });
    }
    return ring;
  }

  private byTask<Res>(taskId: string, invoke: (c: GrpcSchedulerCacheClient, md: Metadata, o: Partial<CallOptions>, cb: Callback<Res>) => unknown): Promise<Res> {
    return this.channels.call(this.need().addressFor(taskId), this.timeoutMs, invoke);
  }
}

/** A scheduler's calls to peers for persistent-cache tasks (d7y.dfdaemon.v1.DfdaemonPersistentCache). */
export class DfdaemonPersistentCacheClient {
  private auth?: GrpcClientAuth;
  private tls?: NodeTls;
  private readonly channels = new Channels((a) => new GrpcDfdaemonCacheClient(a, grpcChannelCredentialsOf(this.tls), { 'grpc.keepalive_time_ms': 30_000, ...authChannelOptions(this.auth) }),
    'peer', 'D7Y_PEER_UNAVAILABLE');

  constructor(private readonly timeoutMs = 10_000) {}

  /** Presents this credential (over `tls`) on later calls (channels made from now on). */
  authenticate(auth: GrpcClientAuth | undefined, tls?: NodeTls): void {
    this.auth = auth;
    this.tls = tls;
    this.channels.close();
  }

  /** Asks the peer to fetch (or pin) a copy; resolves to whether it holds it already. */
  /** `controlKey`: the peer's control key (its host record's), for a control proof on the call. */
  async download(address: string, taskId: string, persistent: boolean, controlKey?: Buffer): Promise<boolean> {
    const r = await this.channels.call<{ held: boolean }>(address, this.timeoutMs, (c, md, o, cb) =>
      c.downloadPersistentCacheTask({ taskId, persistent }, withControlProof(md, this.auth, controlKey, DfdaemonPersistentCacheService.downloadPersistentCacheTask.path), o, cb));
    return r.held;
  }

  async delete(address: string, taskId: string, controlKey?: Buffer): Promise<boolean> {
    const r = await this.channels.call<{ deleted: boolean }>(address, this.timeoutMs, (c, md, o, cb) =>
      c.deletePersistentCacheTask({ taskId }, withControlProof(md, this.auth, controlKey, DfdaemonPersistentCacheService.deletePersistentCacheTask.path), o, cb));
    return r.deleted;
  }

  close(): void {
    this.channels.close();
  }
}
