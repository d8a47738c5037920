import { Server, status as GrpcStatus } from '@grpc/grpc-js';
import { grpcServerCredentialsOf, type NodeTls } from '../../../protocol/tls/node-tls.js';
import type { ServerUnaryCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
import type { Startable } from '../../../contracts/startable.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { Download, Piece, Task } from '../../../protocol/rpc/gen/common.js';
import { DfdaemonUploadService } from '../../../protocol/rpc/gen/dfdaemon.js';
import type {
  DeleteTaskRequest, DeleteTaskResponse, DfdaemonUploadServer, DownloadTaskRequest, DownloadTaskResponse, PieceInfo,
  StatTaskRequest, SyncPiecesRequest,
} from '../../../protocol/rpc/gen/dfdaemon.js';
import { toServiceError } from '../../../protocol/rpc/grpc-errors.js';
import type { AuthNeed, GrpcAuthGuard } from '../../../protocol/auth/grpc-auth.js';
import type { PeerDownloadRequest } from '../../../protocol/local-api/download-request.js';
import type { SeedOffers } from '../upload/seed-offers.js';
import type { DownloadService } from '../download/download-service.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import type { AnnouncedPiece, HeldPiece, TaskState } from '../tasks/task-state.js';
import { remoteContext, startSpan } from '../../../logging/tracing.js';

export interface DfdaemonServiceOptions {
  host: string;
  port: number;
  catalog: TaskCatalog;
  downloads: DownloadService;
  logger: Logger;
  hostId: string;
  peerId: () => string;
  /** A SyncPieces stream with nothing new and no download running ends after this long. */
  syncIdleMs?: number;
  /** A seed peer's super-seeding: a child's first stream for a task gets offers, not everything. */
  offers?: SeedOffers;
  /**
   * Checks the cluster credential of every call (none: an open peer). SyncPieces needs membership;
   * DownloadTask, StatTask and DeleteTask need `controlLevel`: the seed credential on a seed peer
   * (only the scheduler and seed peers may make it fetch or forget), `control` on a normal peer (a
   * scheduler it announced itself to).
   */
  guard?: GrpcAuthGuard;
  controlLevel?: AuthNeed;
  /** More services served on the same port (the persistent cache's). */
  extraServices?: { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
  /** Largest message accepted (peer.rpc.maxReceiveMessageSize); default 4 MiB. */
  maxReceiveMessageSize?: number;
  /** TLS of the node (security.tls); none: plain TCP. */
  tls?: NodeTls;
}

/**
 * The dfdaemon gRPC service every peer serves on its rpc port: `SyncPieces` (pieces held, then
 * new ones as they land), `DownloadTask` (the scheduler's trigger of a seed peer), `StatTask`,
 * `DeleteTask`.
 */
export class DfdaemonService implements Startable {
  private server?: Server;
  private actualPort = 0;

  constructor(private readonly opts: DfdaemonServiceOptions) {}

  get port(): number {
    return this.actualPort || this.opts.port;
  }

  async start(): Promise<void> {
    const server = new Server({ 'grpc.max_concurrent_streams': 1000, 'grpc.max_receive_message_length': this.opts.maxReceiveMessageSize ?? 4 * 1024 * 1024 });
    const control = this.opts.controlLevel ?? 'member';
    const allowed = (call: Parameters<GrpcAuthGuard['check']>[0], need: AuthNeed, refuse: (err: unknown) => void): boolean => {
      try {
        this.opts.guard?.check(call, need);
        return true;
      } catch (err) {
        refuse(toServiceError(err));
        return false;
      }
    };
    const impl: DfdaemonUploadServer = {
      downloadTask: (call) => void (allowed(call, control, (e) => call.emit('error', e)) && this.downloadTask(call)),
      syncPieces: (call) => void (allowed(call, 'member', (e) => call.emit('error', e)) && this.syncPieces(call)),
      statTask: (call, cb) => void (allowed(call, control, (e) => cb(e as never, null)) && this.statTask(call, cb)),
      deleteTask: (call, cb) => void (allowed(call, control, (e) => cb(e as never, null)) && this.deleteTask(call, cb)),
    };
    server.addService(DfdaemonUploadService, impl);
    for (const extra of this.opts.extraServices ?? []) server.addService(extra.definition, extra.implementation);
    this.actualPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${this.opts.host}:${this.opts.port}`, grpcServerCredentialsOf(this.opts.tls), (err, port) => {
        if (err) {
          reject(new D7yError('D7Y_CONFIG_INVALID', `the dfdaemon gRPC server cannot listen on ${this.opts.host}:${this.opts.port}: ${err.message}`, {
            fix: 'choose a free peer.rpc.port (0 picks one)', cause: err,
          }));
        } else resolve(port);
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, 2_000);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
  }

  private async syncPieces(call: ServerWritableStream<SyncPiecesRequest, PieceInfo>): Promise<void> {
    const { taskId, interestedPieceNumbers } = call.request;
    // A child's trace goes on here: this parent's side of the piece sync, until the stream closes.
    const span = startSpan('d7y.peer.sync_pieces', { 'd7y.task_id': taskId, 'd7y.child_host_id': call.request.hostId || undefined },
      remoteContext(call.metadata.getMap()));
    let spanEnded = false;
    const endSpan = (): void => { if (!spanEnded) { spanEnded = true; span.end(); } };
    call.once('close', endSpan);
    call.once('cancelled', endSpan);
    const interested = interestedPieceNumbers.length ? new Set(interestedPieceNumbers) : undefined;
    let state: TaskState;
    try {
      state = await this.opts.catalog.state(taskId);
    } catch (err) {
      return void call.emit('error', toServiceError(err));
    }
    if (this.opts.offers && call.request.hostId) {
      const offer = this.opts.offers.open(state, call.request.hostId, interested,
        (p) => call.write({ number: p.number, offset: p.offset, length: p.length, digest: p.digest }));
      if (offer) {
        call.on('cancelled', () => offer.close());
        call.on('close', () => offer.close());
        return;
      }
    }
    const sent = new Set<number>();
    let idleTimer: NodeJS.Timeout | undefined;
    // Done once every piece asked for is announced and held: a piece announced while it still
    // arrives may be lost (and is then announced again), so the stream stays open until it lands.
    const done = (): boolean => {
      if (interested && [...interested].every((n) => sent.has(n) && state.has(n))) return true;
      const total = state.totalPieces;
      return state.finished && total !== undefined && sent.size >= (interested ? interested.size : total);
    };
    // A piece announced while it was being received, whose transfer then failed, is announced again
    // once it is held (or received) anew: the child that failed to get it here then tries again.
    const unreceived = (n: number): void => void sent.delete(n);
    const finish = (): void => {
      state.off('piece', onPiece);
      state.off('receiving', onPiece);
      state.off('unreceived', unreceived);
      state.off('idle', armIdle);
      clearTimeout(idleTimer);
      call.end();
    };
    const send = (p: AnnouncedPiece): void => {
      if (sent.has(p.number) || (interested && !interested.has(p.number))) return;
      sent.add(p.number);
      call.write({ number: p.number, offset: p.offset, length: p.length, digest: p.digest });
    };
    const armIdle = (): void => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => { if (!state.running) finish(); else armIdle(); }, this.opts.syncIdleMs ?? 10_000);
    };
    const onPiece = (p: AnnouncedPiece): void => {
      send(p);
      armIdle();
      if (done()) finish();
    };
    for (const p of [...state.pieces.values()].sort((a, b) => a.number - b.number)) send(p);
    // Pieces still arriving from a parent are announced too: they can be passed on as they land.
    for (const n of [...state.receiving.keys()]) {
      const r = state.relayable(n);
      if (r) send(r);
    }
    if (done()) return finish();
    state.on('piece', onPiece);
    state.on('receiving', onPiece);
    state.on('unreceived', unreceived);
    state.on('idle', armIdle);
    armIdle();
    call.on('cancelled', () => finish());
  }

  private async downloadTask(call: ServerWritableStream<DownloadTaskRequest, DownloadTaskResponse>): Promise<void> {
    const download = call.request.download;
    if (!download?.url) return void call.emit('error', { code: GrpcStatus.INVALID_ARGUMENT, details: 'download.url is required' });
    const req = fromDownload(download);
    const ids = { hostId: this.opts.hostId, taskId: this.opts.downloads.taskIdOf(req), peerId: this.opts.peerId() };
    const ac = new AbortController();
    if (req.timeoutMs) setTimeout(() => ac.abort(new D7yError('D7Y_TIMEOUT', `download of ${req.url} timed out`)), req.timeoutMs).unref();
    call.on('cancelled', () => undefined);
    let started = false;
    const start = (s: TaskState): void => {
      if (started) return;
      started = true;
      call.write({ ...ids, response: { $case: 'downloadTaskStartedResponse', value: {
        contentLength: s.contentLength ?? 0, responseHeader: {}, pieces: [...s.pieces.values()].map(toPiece), isFinished: s.finished,
      } } });
    };
    const onPiece = (p: HeldPiece, s: TaskState): void => {
      start(s);
      call.write({ ...ids, response: { $case: 'downloadPieceFinishedResponse', value: { piece: toPiece(p) } } });
    };
    try {
      const result = await this.opts.downloads.fetch(req, { signal: ac.signal, onPiece });
      start(result.state);
      call.end();
    } catch (err) {
      this.opts.logger.warn({ taskId: ids.taskId, err: (err as Error).message }, 'triggered download failed');
      call.emit('error', toServiceError(err));
    }
  }

  private async statTask(call: ServerUnaryCall<StatTaskRequest, Task>, cb: sendUnaryData<Task>): Promise<void> {
    try {
      const s = await this.opts.catalog.find(call.request.taskId);
      if (!s?.record) throw new D7yError('D7Y_TASK_NOT_FOUND', `task ${call.request.taskId} is not on this peer`);
      cb(null, {
        id: s.taskId, url: s.record.url ?? '', tag: '', application: '', digest: s.record.digest,
        state: s.finished ? 'succeeded' : s.running ? 'running' : 'pending', contentLength: s.contentLength ?? 0,
        pieceLength: s.pieceLength, pieceCount: s.pieces.size, peerCount: 1, hasAvailablePeer: s.pieces.size > 0,
        createdAt: s.record.createdAt, updatedAt: s.record.lastAccessedAt,
      });
    } catch (err) {
      cb(toServiceError(err) as never, null);
    }
  }

  private async deleteTask(call: ServerUnaryCall<DeleteTaskRequest, DeleteTaskResponse>, cb: sendUnaryData<DeleteTaskResponse>): Promise<void> {
    try {
      await this.opts.downloads.delete(call.request.taskId);
      this.opts.offers?.forget(call.request.taskId);
      cb(null, {});
    } catch (err) {
      cb(toServiceError(toD7yError(err)) as never, null);
    }
  }
}

/** A held piece as DownloadTask answers name it: with its content digest where it has one (as AnnouncePeer reports pieces), else its crc32. */
function toPiece(p: HeldPiece): Piece {
  return {
    number: p.number, parentId: p.parentId, offset: p.offset, length: p.length, digest: p.contentDigest ?? p.digest,
    trafficType: p.trafficType ?? 0, cost: p.cost ?? 0, createdAt: p.createdAt,
  };
}

/** The download request of a dfdaemon `Download` message. */
export function fromDownload(d: Download): PeerDownloadRequest {
  const o = d.objectStorage;
  return {
    url: d.url, digest: d.digest, range: d.range && d.range.length > 0 ? { start: d.range.start, length: d.range.length } : undefined,
    tag: d.tag || undefined, application: d.application || undefined,
    filteredQueryParams: d.filteredQueryParams.length ? d.filteredQueryParams : undefined,
    headers: Object.keys(d.requestHeader).length ? d.requestHeader : undefined, pieceLength: d.pieceLength,
    timeoutMs: d.timeout || undefined, disableBackToSource: d.disableBackToSource, needBackToSource: d.needBackToSource,
    objectStorage: o ? { endpoint: o.endpoint, region: o.region, accessKeyId: o.accessKeyId, accessKeySecret: o.accessKeySecret, sessionToken: o.sessionToken, credentialFile: o.credentialFile } : undefined,
    hdfs: d.hdfs ? { delegationToken: d.hdfs.delegationToken } : undefined,
    options: Object.keys(d.options).length ? d.options : undefined,
  };
}
