import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from '../../logging/logger.js';
import { VORTEX_NONCE_LENGTH } from '../auth/cluster-auth.js';
import type { ClusterAuth } from '../auth/cluster-auth.js';
import type { RefusalLog } from '../auth/refusal-log.js';
import { UNAUTHENTICATED_PREFIX, vortexCodeOf } from './vortex-error-codes.js';
import { VortexDecoder } from './vortex-decoder.js';
import type { VortexEvent } from './vortex-decoder.js';
import { encodeAuthChallengeFrame, encodeErrorFrame, encodePieceContentFrame, VORTEX_MAX_ERROR_MESSAGE_BYTES, randomVortexPacketId } from './vortex-frames.js';
import { VortexErrorCode, vortexRequestTagOf, type PieceKind } from './vortex-tags.js';
import type { PieceFileSend, PieceProvider } from './piece-provider.js';
import { sendFileSpan, type NativeAddon } from '../../native/native-addon.js';
import { plainSocketFd } from './socket-reads.js';

type RequestEvent = Extract<VortexEvent, { type: 'request' }>;

/** How long a connection that got an error frame may linger for the peer to read it. */
const LINGER_MS = 1000;

/** A piece sent with sendfile(2) goes in slices of at most this, each counted and paced. */
const SLICE_BYTES = 1024 * 1024;

/** Pieces sent from their files by the kernel: the native addon, the cut for a reader taking nothing, and what keeps the connection from idling out meanwhile. */
export interface VortexNativeSend {
  addon: NativeAddon;
  timeoutMs: number;
  touch?: () => void;
}

/** A server's cluster credential check: the key, and where refusals are logged. */
export interface VortexServerAuth {
  auth: ClusterAuth;
  refusals: RefusalLog;
}

/**
 * One accepted Vortex connection: serves its requests one after the other (reading pauses
 * while a response is written), pipes each body honouring `drain`, answers a malformed frame
 * with an InvalidArgument error frame and closes. With `auth`, the connection opens with a
 * challenge and its first frame must be the right proof; anything else gets an error frame whose
 * message starts `unauthenticated: ` and the connection closes.
 */
export class VortexServerConnection {
  private readonly decoder = new VortexDecoder({ accept: 'requests', maxValueLength: VORTEX_MAX_ERROR_MESSAGE_BYTES + 1 });
  private readonly queue: VortexEvent[] = [];
  private busy = false;
  private ending = false;
  /** The nonce the client must answer; undefined once it did (or without auth). */
  private challenge: Buffer | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly provider: PieceProvider,
    private readonly logger: Logger,
    private readonly onServed: () => void,
    private readonly auth?: VortexServerAuth,
    private readonly kinds?: readonly PieceKind[],
    private readonly writeTimeoutMs?: number,
    private readonly native?: VortexNativeSend,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    if (auth) {
      this.challenge = randomBytes(VORTEX_NONCE_LENGTH);
      socket.write(encodeAuthChallengeFrame(this.challenge));
    }
  }

  private onData(chunk: Buffer): void {
    if (this.ending) return;
    const events = this.decoder.push(chunk);
    if (this.decoder.failed) this.ending = true;
    this.queue.push(...events);
    if (this.queue.length > 0) {
      this.socket.pause();
      void this.run();
    }
  }

  private async run(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    while (this.queue.length > 0 && !this.socket.destroyed) {
      const job = this.queue.shift() as VortexEvent;
      if (this.challenge && job.type !== 'malformed') {
        this.authenticate(job);
      } else if (job.type === 'request') {
        await this.serve(job);
      } else if (job.type === 'malformed') {
        this.logger.debug({ remote: this.socket.remoteAddress, reason: job.error.message }, 'vortex: malformed frame, closing');
        this.closeWith(encodeErrorFrame(randomVortexPacketId(), VortexErrorCode.InvalidArgument, job.error.message));
      } else {
        if (job.type === 'error') this.logger.debug({ code: job.code, message: job.message }, 'vortex: client sent an error frame');
        this.closeWith(undefined);
      }
    }
    this.busy = false;
    if (!this.ending && !this.socket.destroyed) this.socket.resume();
  }

  /** Checks the first frame of a connection against the challenge; refuses and closes on anything else. */
  private authenticate(job: VortexEvent): void {
    const { auth, refusals } = this.auth as VortexServerAuth;
    if (job.type === 'auth' && auth.checkVortex(this.challenge as Buffer, job.proof)) {
      this.challenge = undefined;
      return;
    }
    const reason = job.type === 'auth' ? 'the cluster credential is wrong (another cluster\'s secret?)' : 'no cluster credential was presented';
    refusals.refused(`${this.socket.remoteAddress}:${this.socket.remotePort}`, job.type === 'request' ? `vortex piece ${job.number} of ${job.taskId}` : `vortex ${job.type} frame`, reason);
    const packetId = job.type === 'request' ? job.packetId : randomVortexPacketId();
    this.closeWith(encodeErrorFrame(packetId, VortexErrorCode.InvalidArgument, `${UNAUTHENTICATED_PREFIX}${reason}`));
  }

  private closeWith(frame: Buffer | undefined): void {
    this.ending = true;
    this.queue.length = 0;
    this.socket.resume();
    if (frame) this.socket.end(frame);
    else this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /**
   * Sends a piece from its file with sendfile(2), in slices of at most SLICE_BYTES (each counted and
   * paced by the provider), following a piece that is still arriving. The header goes first through
   * the socket, and the native send starts only once it reached the kernel. A failure, a cut for a
   * stalled reader or a closed connection ends the send and closes the connection, as `writeBody` does.
   */
  private async serveFile(req: RequestEvent, header: Buffer, file: PieceFileSend, fd: number): Promise<void> {
    const { addon, timeoutMs, touch } = this.native!;
    const ac = new AbortController();
    let job: object | undefined;
    const abandon = (): void => {
      ac.abort(new Error('connection closed'));
      if (job) addon.cancel(job);
    };
    this.socket.once('close', abandon);
    file.onCut(abandon);
    const length = file.meta.length;
    let at = 0;
    try {
      await flushed(this.socket, header);
      while (at < length) {
        if (ac.signal.aborted || this.socket.destroyed) throw new Error('connection closed');
        const ready = await file.ready(at, ac.signal);
        const n = Math.min(ready - at, SLICE_BYTES);
        await file.take(n);
        if (ac.signal.aborted || this.socket.destroyed) throw new Error('connection closed');
        await sendFileSpan(addon, fd, file.fd, file.position + at, n, timeoutMs, (j) => { job = j; });
        at += n;
        file.sent(n);
        touch?.();
      }
      file.end(true);
      this.onServed();
    } catch (err) {
      file.end(false);
      if (!this.socket.destroyed) {
        this.logger.warn({ err, taskId: req.taskId, number: req.number, sent: at }, 'vortex: piece send failed mid-transfer, closing');
      }
      this.socket.destroy();
    } finally {
      this.socket.off('close', abandon);
    }
  }

  private async serve(req: RequestEvent): Promise<void> {
    if (this.kinds && !this.kinds.includes(req.kind)) {
      const message = `this peer does not serve ${req.kind} pieces (request tag ${vortexRequestTagOf(req.kind)}); it serves ${this.kinds.join(', ')} pieces`;
      this.logger.debug({ remote: this.socket.remoteAddress, kind: req.kind, taskId: req.taskId }, 'vortex: piece kind not served');
      if (!this.socket.destroyed) this.socket.write(encodeErrorFrame(req.packetId, VortexErrorCode.InvalidArgument, message));
      return;
    }
    const key = { taskId: req.taskId, number: req.number, kind: req.kind };
    const fd = this.native && this.provider.getPieceFile ? plainSocketFd(this.socket) : undefined;
    // A piece the provider keeps as a plain file goes by sendfile; any other as a stream.
    type Got = { file: PieceFileSend } | { file?: undefined; piece: Awaited<ReturnType<PieceProvider['getPiece']>> };
    let got: Got;
    try {
      const file = fd === undefined ? undefined : await this.provider.getPieceFile!(key);
      got = file ? { file } : { piece: await this.provider.getPiece(key) };
    } catch (err) {
      const code = vortexCodeOf(err);
      if (code !== VortexErrorCode.NotFound) this.logger.warn({ err, taskId: req.taskId, number: req.number }, 'vortex: provider failed');
      if (!this.socket.destroyed) this.socket.write(encodeErrorFrame(req.packetId, code, (err as Error)?.message ?? String(err)));
      return;
    }
    let header: Buffer;
    try {
      header = encodePieceContentFrame(req.packetId, req.kind, got.file ? got.file.meta : got.piece.meta);
    } catch (err) {
      if (got.file) got.file.end(false);
      else got.piece.body.destroy();
      this.logger.warn({ err, taskId: req.taskId, number: req.number }, 'vortex: provider gave invalid piece metadata');
      if (!this.socket.destroyed) this.socket.write(encodeErrorFrame(req.packetId, VortexErrorCode.Internal, (err as Error).message));
      return;
    }
    if (got.file) return this.serveFile(req, header, got.file, fd!);
    const piece = got.piece;
    const abandon = (): void => { piece.body.destroy(); };
    this.socket.once('close', abandon);
    try {
      this.socket.write(header);
      await writeBody(this.socket, piece.body, piece.meta.length, piece.recycle, this.writeTimeoutMs);
      this.onServed();
    } catch (err) {
      if (!this.socket.destroyed) {
        this.logger.warn({ err, taskId: req.taskId, number: req.number }, 'vortex: piece body failed mid-transfer, closing');
      }
      piece.body.destroy();
      this.socket.destroy();
    } finally {
      this.socket.off('close', abandon);
    }
  }
}

/** Resolves once every byte written to `socket` so far has reached the kernel. */
function flushed(socket: Socket, last: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(last, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Writes exactly `length` bytes of `body` to `socket`, waiting for `drain` when its buffer is full
 * (at most `timeoutMs`: the body's last chunks can wait only there, past any watch on the body);
 * each chunk goes to `recycle` once the kernel has it.
 */
async function writeBody(socket: Socket, body: Readable, length: number, recycle?: (chunk: Buffer) => void, timeoutMs?: number): Promise<void> {
  let sent = 0;
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    sent += bytes.length;
    if (sent > length) throw new Error(`piece body is longer than its metadata length ${length}`);
    if (socket.destroyed) throw new Error('connection closed');
    const ok = recycle ? socket.write(bytes, (err) => { if (!err) recycle(bytes); }) : socket.write(bytes);
    if (!ok) await drained(socket, body, timeoutMs);
  }
  if (sent !== length) throw new Error(`piece body ended after ${sent} of ${length} bytes`);
}

/**
 * Resolves on the socket's `drain`; rejects when the socket closes, the body is destroyed (an
 * upload cut for a stalled reader) or `timeoutMs` passes first. A body that closes because it
 * ended — its last chunk is the one waiting for `drain` — is no failure: the wait goes on.
 */
function drained(socket: Socket, body: Readable, timeoutMs?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = timeoutMs === undefined ? undefined
      : setTimeout(() => { done(); reject(new Error(`the client took none of the piece's bytes for ${timeoutMs} ms; upload cut`)); }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      body.off('close', onBodyClose);
    };
    const onDrain = (): void => { done(); resolve(); };
    const onClose = (): void => { done(); reject(new Error('connection closed')); };
    const onBodyClose = (): void => {
      if (!body.errored && body.readableEnded) return;
      done();
      reject(body.errored ?? new Error('piece body closed before it was sent'));
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
    body.once('close', onBodyClose);
  });
}
