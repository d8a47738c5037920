import { Metadata } from '@grpc/grpc-js';
import type { CallOptions, ServiceError } from '@grpc/grpc-js';
import { D7yError } from '../../errors/d7y-error.js';
import { grpcChannelCredentialsOf, type NodeTls } from '../tls/node-tls.js';
import { authChannelOptions, type GrpcClientAuth } from '../auth/grpc-auth.js';
import type { Host, HostType, Peer, Task } from './gen/common.js';
import { SchedulerClient as GrpcSchedulerClient, type HeldTask } from './gen/scheduler.js';
import { AnnouncePeerSession } from './announce-peer-session.js';
import type { AnnouncePeerIds } from './announce-peer-session.js';
import { fromServiceError } from './grpc-errors.js';
import { HashRing } from './hash-ring.js';
import { RECONNECT_OPTIONS } from './reconnect-options.js';
import { traceMetadata } from './trace-metadata.js';

export interface SchedulerClientOptions {
  /** `host:port` of every scheduler of the cluster. */
  addresses: string[];
  /** Deadline of unary calls in milliseconds (default 10 000). */
  callTimeoutMs?: number;
  /** The cluster credential (and host identity) presented on every call; none in an open cluster. */
  auth?: GrpcClientAuth;
  /** TLS of this node (security.tls); none: plain TCP. */
  tls?: NodeTls;
}

type Invoke<Res> = (c: GrpcSchedulerClient, md: Metadata, opts: Partial<CallOptions>,
  cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * Talks to a cluster of schedulers. A task's calls go to the scheduler chosen by a consistent
 * hash of the task id over `addresses`, so all peers of a task meet at one scheduler; when that
 * scheduler is unreachable, unary calls move on to the next one on the ring. Host announces go
 * to every scheduler. Errors are D7yErrors naming the scheduler address.
 */
export class SchedulerClient {
  private ring: HashRing;
  private readonly clients = new Map<string, GrpcSchedulerClient>();
  private readonly callTimeoutMs: number;
  private readonly auth?: GrpcClientAuth;
  private readonly tls?: NodeTls;

  constructor(opts: SchedulerClientOptions) {
    if (opts.addresses.length === 0) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'no scheduler address given', {
        fix: 'set peer.scheduler.addresses in the config (host:port of each scheduler)',
      });
    }
    this.ring = new HashRing(opts.addresses);
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.auth = opts.auth;
    this.tls = opts.tls;
  }

  /** The schedulers in use, sorted. */
  get addresses(): string[] {
    return [...this.ring.members].sort();
  }

  /**
   * Switches to another set of schedulers (e.g. the manager's answer); later calls and sessions
   * use it, open sessions carry on. Returns false (and changes nothing) for an empty or equal set.
   */
  setAddresses(addresses: string[]): boolean {
    const next = [...new Set(addresses)].sort();
    if (next.length === 0 || next.join(',') === this.addresses.join(',')) return false;
    this.ring = new HashRing(next);
    return true;
  }

  /** The scheduler a task's peers talk to. */
  addressFor(taskId: string): string {
    return this.ring.get(taskId)!;
  }

  /**
   * Upserts the host on every scheduler. Resolves to the schedulers that did not know the host
   * before (restarted, expired it, or new to this peer); rejects only when no scheduler accepted it.
   */
  async announceHost(host: Host, opts: { intervalMs?: number } = {}): Promise<string[]> {
    const members = this.ring.members;
    const results = await Promise.allSettled(members.map((address) =>
      this.unary<{ newHost: boolean }>(address, (c, md, o, cb) => c.announceHost({ host, interval: opts.intervalMs ?? 0 }, md, o, cb))));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure && results.every((r) => r.status === 'rejected')) throw failure.reason;
    return members.filter((_, i) => { const r = results[i]!; return r.status === 'fulfilled' && r.value.newHost; });
  }

  /**
   * Tells the scheduler at `address` which finished tasks this host holds (each should be one
   * `addressFor` routes there); resolves to the number it recorded.
   */
  async announceHeldTasks(address: string, hostId: string, tasks: HeldTask[]): Promise<number> {
    const res = await this.unary<{ acceptedCount: number }>(address, (c, md, o, cb) => c.announceHeldTasks({ hostId, tasks }, md, o, cb));
    return res.acceptedCount;
  }

  /**
   * Opens the AnnouncePeer stream of one download on the task's scheduler, or, with `exclude`
   * (schedulers found dead), on the next one along the ring. Throws D7Y_SCHEDULER_UNAVAILABLE
   * when every scheduler is excluded.
   */
  announcePeer(ids: AnnouncePeerIds, opts: { exclude?: ReadonlySet<string> } = {}): AnnouncePeerSession {
    const address = this.ring.lookup(ids.taskId).find((a) => !opts.exclude?.has(a));
    if (!address) {
      throw new D7yError('D7Y_SCHEDULER_UNAVAILABLE', `every scheduler of task ${ids.taskId} was lost (${[...opts.exclude ?? []].join(', ')})`, {
        fix: 'start the schedulers again, or check peer.scheduler.addresses',
      });
    }
    const call = this.client(address).announcePeer(traceMetadata());
    return new AnnouncePeerSession(call, ids, address);
  }

  statTask(taskId: string): Promise<Task> {
    return this.byTask<Task>(taskId, (c, md, o, cb) => c.statTask({ taskId }, md, o, cb));
  }

  statPeer(taskId: string, peerId: string): Promise<Peer> {
    return this.byTask<Peer>(taskId, (c, md, o, cb) => c.statPeer({ taskId, peerId }, md, o, cb));
  }

  /** Forgets the task and its peers on its scheduler; resolves to the number of peers removed. */
  async deleteTask(taskId: string): Promise<number> {
    const res = await this.byTask<{ deletedPeerCount: number }>(taskId, (c, md, o, cb) => c.deleteTask({ taskId }, md, o, cb));
    return res.deletedPeerCount;
  }

  /** Hosts known to the schedulers (merged by id, the latest announce wins). */
  async listHosts(type?: HostType): Promise<Host[]> {
    const results = await Promise.allSettled(this.ring.members.map((address) =>
      this.unary<{ hosts: Host[] }>(address, (c, md, o, cb) => c.listHosts({ type }, md, o, cb))));
    const ok = results.filter((r): r is PromiseFulfilledResult<{ hosts: Host[] }> => r.status === 'fulfilled');
    if (ok.length === 0) throw (results[0] as PromiseRejectedResult).reason;
    const byId = new Map<string, Host>();
    for (const r of ok) {
      for (const h of r.value.hosts) {
        const seen = byId.get(h.id);
        if (!seen || seen.announcedAt < h.announcedAt) byId.set(h.id, h);
      }
    }
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Forgets the host (and its peers) on every scheduler; resolves to the number of peers removed. */
  async deleteHost(hostId: string): Promise<number> {
    const results = await Promise.allSettled(this.ring.members.map((address) =>
      this.unary<{ deletedPeerCount: number }>(address, (c, md, o, cb) => c.deleteHost({ hostId }, md, o, cb))));
    const ok = results.filter((r): r is PromiseFulfilledResult<{ deletedPeerCount: number }> => r.status === 'fulfilled');
    if (ok.length === 0) throw (results[0] as PromiseRejectedResult).reason;
    return ok.reduce((n, r) => n + r.value.deletedPeerCount, 0);
  }

  /** Closes every channel. Open sessions are cancelled by grpc-js. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(address: string): GrpcSchedulerClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new GrpcSchedulerClient(address, grpcChannelCredentialsOf(this.tls), {
        'grpc.keepalive_time_ms': 30_000,
        'grpc.max_receive_message_length': 16 * 1024 * 1024,
        ...RECONNECT_OPTIONS,
        ...authChannelOptions(this.auth),
      });
      this.clients.set(address, c);
    }
    return c;
  }

  private async byTask<Res>(taskId: string, invoke: Invoke<Res>): Promise<Res> {
    let last: unknown;
    for (const address of this.ring.lookup(taskId)) {
      try {
        return await this.unary(address, invoke);
      } catch (err) {
        last = err;
        if (!(err instanceof D7yError) || err.code !== 'D7Y_SCHEDULER_UNAVAILABLE') throw err;
      }
    }
    throw last;
  }

  private unary<Res>(address: string, invoke: Invoke<Res>): Promise<Res> {
    return new Promise((resolve, reject) => {
      invoke(this.client(address), new Metadata(), { deadline: Date.now() + this.callTimeoutMs }, (err, res) => {
        if (err) reject(fromServiceError(err, `scheduler ${address}`, 'D7Y_SCHEDULER_UNAVAILABLE'));
        else resolve(res);
      });
    });
  }
}
