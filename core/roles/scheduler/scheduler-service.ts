import { createHash, timingSafeEqual } from 'node:crypto';
import type { sendUnaryData, ServerDuplexStream, ServerUnaryCall } from '@grpc/grpc-js';
import { D7yError, isD7yError, toD7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { controlKeyOf, type AuthLevel } from '../../protocol/auth/cluster-auth.js';
import type { GrpcAuthGuard, GrpcCaller } from '../../protocol/auth/grpc-auth.js';
import { HostType } from '../../protocol/rpc/gen/common.js';
import type { AnnouncePeerRequest, AnnouncePeerResponse, SchedulerServer } from '../../protocol/rpc/gen/scheduler.js';
import { toServiceError } from '../../protocol/rpc/grpc-errors.js';
import { AnnouncePeerStream } from './announce-peer-stream.js';
import type { PeerAnnouncer } from './peer-announcer.js';
import { hostMessage, peerMessage, taskMessage } from './proto-mapping.js';
import { AnnounceHeldTasksSchema, AnnounceHostSchema, HostIdSchema, parseRequest, StatPeerSchema, TaskIdSchema } from './request-schemas.js';
import type { HostRecord } from './resource/records.js';
import type { SchedulerResources } from './resource/scheduler-resources.js';
import type { SchedulerMetrics } from './scheduler-metrics.js';
import type { SeedPeerTrigger } from './seed-peer-trigger.js';

export interface SchedulerServiceOptions {
  hostTtl: number;
  maxStreams: number;
}

/**
 * Wraps a unary handler: the caller's credential checked (`need`), input parsed at the boundary,
 * every error sent as a gRPC status and counted by code.
 */
function unary<Req, Res>(guard: GrpcAuthGuard | undefined, errors: SchedulerMetrics['errors'], need: AuthLevel, fn: (req: Req, caller: GrpcCaller) => Res):
  (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    try {
      cb(null, fn(call.request, guard?.check(call, need) ?? { level: 'open' }));
    } catch (err) {
      const e = toD7yError(err);
      errors.inc({ code: e.code });
      cb(toServiceError(e));
    }
  };
}

const fingerprint = (identity: string): string => createHash('sha256').update(identity).digest('hex');

/**
 * Throws unless `caller` may act for the host: a host record belongs to the identity that first
 * announced it (until it is deleted or expires); a seed-credential caller (a scheduler, a seed
 * peer) may delete any host.
 */
function assertOwner(host: HostRecord | undefined, caller: GrpcCaller, action: string): void {
  if (!host?.owner) return;
  const presented = caller.hostIdentity ? Buffer.from(fingerprint(caller.hostIdentity)) : undefined;
  if (presented && timingSafeEqual(presented, Buffer.from(host.owner))) return;
  throw new D7yError('D7Y_PERMISSION_DENIED', `host ${host.id} belongs to another identity: ${action} refused`, {
    fix: 'a host id is bound to the identity that announced it (<peer dir>/host-identity); give this peer its own host.hostname or host.ip, or wait until the other host record expires',
  });
}

/** The gRPC implementation of d7y.scheduler.v1.Scheduler over the scheduler's resources. */
export function createSchedulerService(deps: {
  resources: SchedulerResources;
  announcer: PeerAnnouncer;
  seeds: SeedPeerTrigger;
  metrics: SchedulerMetrics;
  logger: Logger;
  options: SchedulerServiceOptions;
  /** Checks the cluster credential of every call; none: an open scheduler. */
  guard?: GrpcAuthGuard;
  now?: () => number;
}): SchedulerServer {
  const { resources, announcer, seeds, metrics, logger, options, guard } = deps;
  const now = deps.now ?? Date.now;
  let streams = 0;
  return {
    announceHost: unary(guard, metrics.errors, 'member', (req, caller) => {
      const { host, interval } = parseRequest(AnnounceHostSchema, req, 'AnnounceHostRequest');
      const h = host!;
      const existing = resources.hosts.get(h.id);
      const newHost = !existing;
      assertOwner(existing, caller, 'AnnounceHost');
      if (h.type === HostType.HOST_TYPE_SUPER && caller.level === 'member') {
        throw new D7yError('D7Y_PERMISSION_DENIED', `host ${h.id} announced itself as a seed peer without the seed credential`, {
          fix: 'a seed peer needs security.seedSecret (the same as the schedulers\'); a normal peer must not set peer.seed',
        });
      }
      resources.upsertHost({
        owner: caller.hostIdentity ? fingerprint(caller.hostIdentity) : existing?.owner,
        controlKey: caller.controlIdentity ? controlKeyOf(caller.controlIdentity) : existing?.controlKey,
        id: h.id, ip: h.ip, hostname: h.hostname, type: h.type === HostType.HOST_TYPE_SUPER ? 'super' : 'normal',
        idc: h.idc || undefined, location: h.location || undefined, uploadPort: h.uploadPort, rpcPort: h.rpcPort,
        maxUploadBps: h.maxTxBps, uploadBpsLast60s: h.txBps60s, concurrentUploads: h.concurrentUploads,
        uploadLimit: h.uploadLimit, announcedAt: now(), ttl: interval > 0 ? Math.min(3 * interval, options.hostTtl) : options.hostTtl,
      });
      metrics.announceHost.inc();
      return { newHost };
    }),

    announceHeldTasks: unary(guard, metrics.errors, 'member', (req, caller) => {
      const { hostId } = parseRequest(AnnounceHeldTasksSchema, req, 'AnnounceHeldTasksRequest');
      const host = resources.hosts.get(hostId);
      assertOwner(host, caller, 'AnnounceHeldTasks');
      if (!host) {
        throw new D7yError('D7Y_NOT_FOUND', `host ${hostId} is not announced to this scheduler`, { fix: 'call AnnounceHost before AnnounceHeldTasks' });
      }
      let acceptedCount = 0;
      for (const t of req.tasks) {
        try {
          announcer.held(host, { ...t, download: t.download! });
          acceptedCount++;
        } catch (err) {
          if (!isD7yError(err, 'D7Y_RATE_LIMITED')) throw err;
        }
      }
      if (acceptedCount < req.tasks.length) {
        logger.warn({ hostId, refused: req.tasks.length - acceptedCount }, 'held tasks refused: the scheduler is at its task or peer limits');
      }
      return { acceptedCount };
    }),

    announcePeer: (call: ServerDuplexStream<AnnouncePeerRequest, AnnouncePeerResponse>) => {
      let caller: GrpcCaller;
      try {
        caller = guard?.check(call, 'member') ?? { level: 'open' };
      } catch (err) {
        const e = toD7yError(err);
        metrics.errors.inc({ code: e.code });
        call.emit('error', toServiceError(e));
        return;
      }
      if (streams >= options.maxStreams) {
        metrics.errors.inc({ code: 'D7Y_RATE_LIMITED' });
        call.emit('error', toServiceError(new D7yError('D7Y_RATE_LIMITED',
          `scheduler has ${streams} announce streams open, its limit`, { fix: 'retry later or raise scheduler.limits.maxStreams' })));
        return;
      }
      streams++;
      new AnnouncePeerStream(call, announcer, resources, metrics, logger, () => {
        streams--;
      }, (hostId) => assertOwner(resources.hosts.get(hostId), caller, 'AnnouncePeer'));
    },

    statPeer: unary(guard, metrics.errors, 'seed', (req) => {
      const { taskId, peerId } = parseRequest(StatPeerSchema, req, 'StatPeerRequest');
      const peer = resources.tasks.get(taskId)?.peers.get(peerId);
      if (!peer) throw new D7yError('D7Y_NOT_FOUND', `peer ${peerId} of task ${taskId} is not known to this scheduler`);
      return peerMessage(peer);
    }),

    statTask: unary(guard, metrics.errors, 'seed', (req) => {
      const { taskId } = parseRequest(TaskIdSchema, req, 'StatTaskRequest');
      const task = resources.tasks.get(taskId);
      if (!task) throw new D7yError('D7Y_TASK_NOT_FOUND', `task ${taskId} is not known to this scheduler`);
      return taskMessage(task);
    }),

    deleteTask: unary(guard, metrics.errors, 'seed', (req) => {
      const { taskId } = parseRequest(TaskIdSchema, req, 'DeleteTaskRequest');
      seeds.cancel(taskId);
      const deletedPeerCount = resources.deleteTask(taskId);
      return { deletedPeerCount };
    }),

    listHosts: unary(guard, metrics.errors, 'seed', (req) => {
      const type = req.type;
      const hosts = [...resources.hosts.values()]
        .filter((h) => type === undefined || (type === HostType.HOST_TYPE_SUPER) === (h.type === 'super'))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map(hostMessage);
      return { hosts };
    }),

    deleteHost: unary(guard, metrics.errors, 'member', (req, caller) => {
      const { hostId } = parseRequest(HostIdSchema, req, 'DeleteHostRequest');
      const host = resources.hosts.get(hostId);
      if (caller.level === 'member' && !host?.owner) {
        throw new D7yError('D7Y_PERMISSION_DENIED', `DeleteHost of ${hostId} needs the seed credential or the host's own identity`, {
          fix: 'only the host itself (as it leaves), a scheduler or a seed peer may delete a host',
        });
      }
      if (caller.level === 'member') assertOwner(host, caller, 'DeleteHost');
      const deletedPeerCount = resources.deleteHost(hostId);
      return { deletedPeerCount };
    }),
  };
}
