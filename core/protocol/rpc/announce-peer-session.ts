import type { ClientDuplexStream } from '@grpc/grpc-js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Download, Piece } from './gen/common.js';
import type { AnnouncePeerRequest, AnnouncePeerResponse, DownloadStats } from './gen/scheduler.js';
import { fromServiceError } from './grpc-errors.js';

/** One report a peer sends on its AnnouncePeer stream (the oneof of AnnouncePeerRequest). */
export type AnnouncePeerReport = NonNullable<AnnouncePeerRequest['request']>;

/** Who is announcing: the stream carries these ids on every message. */
export interface AnnouncePeerIds {
  hostId: string;
  taskId: string;
  peerId: string;
}

/**
 * A typed AnnouncePeer stream of one download. Send reports with `send` (or the helpers), read
 * the scheduler's answers with `next()` or `for await`. Errors of the stream reject as D7yError
 * (`D7Y_SCHEDULER_UNAVAILABLE` when the scheduler is unreachable, `D7Y_INVALID_ARGUMENT` for a
 * request the scheduler refused). Call `end()` when the download is over, or `cancel()`.
 */
export class AnnouncePeerSession implements AsyncIterable<AnnouncePeerResponse> {
  private readonly iterator: AsyncIterator<AnnouncePeerResponse>;
  private ended = false;
  private pending?: Promise<AnnouncePeerResponse | undefined>;
  /** Reports sent on this stream, by kind (`downloadPieceFailedRequest`, `reschedulePeerRequest`, …). */
  readonly sent = new Map<AnnouncePeerReport['$case'], number>();

  constructor(
    private readonly call: ClientDuplexStream<AnnouncePeerRequest, AnnouncePeerResponse>,
    readonly ids: AnnouncePeerIds,
    /** The scheduler address this session talks to. */
    readonly address: string,
  ) {
    this.iterator = (call as AsyncIterable<AnnouncePeerResponse>)[Symbol.asyncIterator]();
    call.on('error', () => { /* surfaced through next() */ });
  }

  /** Sends one report. Resolves when it is handed to the transport (back-pressure respected). */
  send(request: AnnouncePeerReport): Promise<void> {
    if (this.ended) {
      return Promise.reject(new D7yError('D7Y_PROTOCOL_ERROR', `announce stream of peer ${this.ids.peerId} is already closed`));
    }
    this.sent.set(request.$case, (this.sent.get(request.$case) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      const ok = this.call.write({ ...this.ids, request }, (err?: Error | null) => {
        if (err) reject(fromServiceError(err, `scheduler ${this.address}`, 'D7Y_SCHEDULER_UNAVAILABLE'));
      });
      if (ok) resolve();
      else this.call.once('drain', () => resolve());
    });
  }

  register(download: Download): Promise<void> {
    return this.send({ $case: 'registerPeerRequest', value: { download } });
  }

  started(): Promise<void> {
    return this.send({ $case: 'downloadPeerStartedRequest', value: {} });
  }

  backToSourceStarted(description?: string): Promise<void> {
    return this.send({ $case: 'downloadPeerBackToSourceStartedRequest', value: { description } });
  }

  pieceFinished(piece: Piece): Promise<void> {
    return this.send({ $case: 'downloadPieceFinishedRequest', value: { piece } });
  }

  backToSourcePieceFinished(piece: Piece): Promise<void> {
    return this.send({ $case: 'downloadPieceBackToSourceFinishedRequest', value: { piece } });
  }

  /** A piece failed from a parent; `corrupt` when its bytes differed from the trusted digest. */
  pieceFailed(pieceNumber: number, parentId: string, temporary = true, corrupt = false): Promise<void> {
    return this.send({ $case: 'downloadPieceFailedRequest', value: { pieceNumber, parentId, temporary, corrupt } });
  }

  /** Asks for new parents; `failedParentIds` are excluded from the new round. */
  reschedule(failedParentIds: string[], description?: string): Promise<void> {
    return this.send({
      $case: 'reschedulePeerRequest',
      value: {
        description,
        candidateParents: failedParentIds.map((id) => ({
          id, state: '', taskId: this.ids.taskId, host: undefined, finishedPieceCount: 0,
          needBackToSource: false, createdAt: 0, updatedAt: 0,
        })),
      },
    });
  }

  /** `stats` covers the whole download (experiment outcomes); optional. */
  finished(contentLength: number, pieceCount: number, stats?: DownloadStats): Promise<void> {
    return this.send({ $case: 'downloadPeerFinishedRequest', value: { contentLength, pieceCount, stats } });
  }

  backToSourceFinished(contentLength: number, pieceCount: number, stats?: DownloadStats): Promise<void> {
    return this.send({ $case: 'downloadPeerBackToSourceFinishedRequest', value: { contentLength, pieceCount, stats } });
  }

  failed(description?: string, stats?: DownloadStats): Promise<void> {
    return this.send({ $case: 'downloadPeerFailedRequest', value: { description, stats } });
  }

  backToSourceFailed(description?: string, stats?: DownloadStats): Promise<void> {
    return this.send({ $case: 'downloadPeerBackToSourceFailedRequest', value: { description, stats } });
  }

  /**
   * The next answer of the scheduler; undefined when the scheduler closed the stream.
   * With `timeoutMs`, rejects with D7Y_TIMEOUT if nothing arrives in time (the stream stays usable).
   */
  async next(opts: { timeoutMs?: number } = {}): Promise<AnnouncePeerResponse | undefined> {
    const read = this.pending ??= this.iterator.next().then(
      (r) => { this.pending = undefined; return r.done ? undefined : r.value; },
      (err: unknown) => {
        this.pending = undefined;
        throw fromServiceError(err, `scheduler ${this.address}`, 'D7Y_SCHEDULER_UNAVAILABLE');
      },
    );
    if (opts.timeoutMs === undefined) return read;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new D7yError('D7Y_TIMEOUT',
        `scheduler ${this.address} sent no answer to peer ${this.ids.peerId} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    });
    try {
      return await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AnnouncePeerResponse> {
    for (;;) {
      const r = await this.next();
      if (r === undefined) return;
      yield r;
    }
  }

  /** Half-closes the stream: no more reports; the scheduler then ends its side. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
  }

  /** Aborts the stream at once. */
  cancel(): void {
    this.ended = true;
    this.call.cancel();
  }
}
