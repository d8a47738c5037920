import type { ServerDuplexStream } from '@grpc/grpc-js';
import { D7yError, toD7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import type { AnnouncePeerRequest, AnnouncePeerResponse } from '../../protocol/rpc/gen/scheduler.js';
import { toServiceError } from '../../protocol/rpc/grpc-errors.js';
import type { PeerAnnouncer, PeerIds } from './peer-announcer.js';
import { peerMessage } from './proto-mapping.js';
import { DownloadSchema, parseRequest, PeerIdsSchema, PieceSchema } from './request-schemas.js';
import type { PeerChannel, PeerRecord, TaskRecord } from './resource/records.js';
import type { SchedulerResources } from './resource/scheduler-resources.js';
import type { SchedulerMetrics } from './scheduler-metrics.js';
import type { Span } from '@opentelemetry/api';
import { failSpan, remoteContext, startSpan } from '../../logging/tracing.js';

type Call = ServerDuplexStream<AnnouncePeerRequest, AnnouncePeerResponse>;

/**
 * Serves one AnnouncePeer stream: the first message must register the peer; every message
 * carries the same ids. A malformed message ends the stream with INVALID_ARGUMENT and a message
 * naming the field; the scheduler itself never throws out of the handler.
 */
export class AnnouncePeerStream implements PeerChannel {
  private ids?: PeerIds;
  private peer?: PeerRecord;
  private task?: TaskRecord;
  /** The trace span of this download on the scheduler, from register to the end of the stream. */
  private span?: Span;
  private done = false;

  constructor(
    private readonly call: Call,
    private readonly announcer: PeerAnnouncer,
    private readonly resources: SchedulerResources,
    private readonly metrics: SchedulerMetrics,
    private readonly logger: Logger,
    private readonly onClose: () => void,
    /** Throws when the caller may not register peers of this host (it belongs to another identity). */
    private readonly authorizeHost?: (hostId: string) => void,
  ) {
    call.on('data', (req: AnnouncePeerRequest) => this.onData(req));
    call.on('end', () => this.finish(true));
    call.on('cancelled', () => this.finish(false));
    call.on('error', () => this.finish(false));
  }

  normalTask(parents: PeerRecord[]): void {
    this.write({ response: { $case: 'normalTaskResponse', value: { candidateParents: parents.map(peerMessage) } } });
  }

  pieceDigests(pieces: { number: number; digest: string }[]): void {
    this.write({ response: { $case: 'pieceDigestsResponse', value: { pieces } } });
  }

  needBackToSource(description: string): void {
    this.span?.addEvent('need_back_to_source', { description });
    this.write({ response: { $case: 'needBackToSourceResponse', value: { description } } });
  }

  fail(code: D7yError['code'], message: string, fix?: string): void {
    if (this.done) return;
    this.detach();
    this.done = true;
    this.metrics.errors.inc({ code });
    if (this.span) failSpan(this.span, message);
    this.span?.end();
    this.call.emit('error', toServiceError(new D7yError(code, message, { fix })));
    this.onClose();
  }

  private write(res: AnnouncePeerResponse): void {
    if (!this.done && this.call.writable) this.call.write(res);
  }

  private onData(req: AnnouncePeerRequest): void {
    if (this.done) return;
    try {
      if (!this.ids) this.authorizeHost?.(req.hostId);
      this.dispatch(req);
    } catch (err) {
      const e = toD7yError(err);
      if (e.code === 'D7Y_INTERNAL') this.logger.error({ err: e.message, peerId: this.ids?.peerId }, 'announce peer failed');
      this.fail(e.code, e.message, e.fix);
    }
  }

  private dispatch(req: AnnouncePeerRequest): void {
    const ids = parseRequest(PeerIdsSchema, req, 'AnnouncePeerRequest');
    const r = req.request;
    if (!r) throw new D7yError('D7Y_INVALID_ARGUMENT', 'invalid AnnouncePeerRequest: request is empty (set one of its variants)');
    this.metrics.announcePeer.inc({ type: r.$case });
    if (!this.ids) {
      if (r.$case !== 'registerPeerRequest') {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid AnnouncePeerRequest: the first message must be registerPeerRequest, not ${r.$case}`);
      }
      const download = r.value.download;
      if (!download) throw new D7yError('D7Y_INVALID_ARGUMENT', 'invalid AnnouncePeerRequest: register_peer_request.download is missing');
      parseRequest(DownloadSchema, download, 'register_peer_request');
      this.ids = ids;
      this.span = startSpan('d7y.scheduler.announce_peer', { 'd7y.task_id': ids.taskId, 'd7y.peer_id': ids.peerId, 'd7y.host_id': ids.hostId },
        remoteContext(this.call.metadata.getMap()));
      this.peer = this.announcer.register(ids, download, this);
      this.task = this.resources.tasks.get(ids.taskId);
      return;
    }
    if (ids.peerId !== this.ids.peerId || ids.taskId !== this.ids.taskId || ids.hostId !== this.ids.hostId) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'invalid AnnouncePeerRequest: host_id, task_id and peer_id must stay those of the register message');
    }
    const task = this.task!;
    const peer = this.peer!;
    if (task.peers.get(peer.id) !== peer) {
      throw new D7yError('D7Y_NOT_FOUND', `peer ${peer.id} of task ${task.id} is no longer known to the scheduler`, {
        fix: 'register the download again',
      });
    }
    switch (r.$case) {
      case 'registerPeerRequest':
        throw new D7yError('D7Y_INVALID_ARGUMENT', 'invalid AnnouncePeerRequest: the peer is already registered on this stream');
      case 'downloadPeerStartedRequest':
        return this.announcer.started(task, peer);
      case 'downloadPeerBackToSourceStartedRequest':
        return this.announcer.backToSourceStarted(task, peer, r.value.description);
      case 'reschedulePeerRequest':
        return this.announcer.reschedule(task, peer, r.value.candidateParents.map((p) => p.id).filter(Boolean));
      case 'downloadPieceFinishedRequest':
      case 'downloadPieceBackToSourceFinishedRequest': {
        if (!r.value.piece) throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid AnnouncePeerRequest: ${r.$case}.piece is missing`);
        parseRequest(PieceSchema, r.value.piece, `${r.$case}.piece`);
        if (r.$case === 'downloadPieceBackToSourceFinishedRequest') return this.announcer.sourcePieceFinished(task, peer, r.value.piece);
        return this.announcer.pieceFinished(task, peer, r.value.piece);
      }
      case 'downloadPieceFailedRequest':
        return this.announcer.pieceFailed(task, peer, r.value.parentId, r.value.corrupt, r.value.pieceNumber);
      case 'downloadPieceBackToSourceFailedRequest':
        peer.updatedAt = Date.now();
        return;
      case 'downloadPeerFinishedRequest':
      case 'downloadPeerBackToSourceFinishedRequest':
        return this.announcer.finished(task, peer, r.value.contentLength, r.value.pieceCount, r.value.stats);
      case 'downloadPeerFailedRequest':
      case 'downloadPeerBackToSourceFailedRequest':
        return this.announcer.failed(task, peer, r.value.stats);
    }
  }

  private detach(): void {
    const { task, peer } = this;
    this.peer = undefined;
    if (task && peer && task.peers.get(peer.id) === peer) this.announcer.closed(task, peer);
  }

  private finish(graceful: boolean): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    this.span?.end();
    if (graceful && this.call.writable) this.call.end();
    this.onClose();
  }
}
