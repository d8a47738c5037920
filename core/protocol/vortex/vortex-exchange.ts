import type { Socket } from 'node:net';
import { D7yError } from '../../errors/d7y-error.js';
import { errorFromVortexFrame } from './vortex-error-codes.js';
import { VortexDecoder } from './vortex-decoder.js';
import type { VortexEvent } from './vortex-decoder.js';
import type { PieceContentMeta } from './piece-content-meta.js';
import { vortexContentTagOf, VortexErrorCode } from './vortex-tags.js';
import type { PieceKind } from './vortex-tags.js';
import { onReads, type DirectReads } from './socket-reads.js';
import { VortexPieceBody } from './vortex-piece-body.js';
import type { NativeAddon } from '../../native/native-addon.js';

/** Raised when a reused connection turned out dead before any response byte; the request may be retried. */
export class StaleConnectionError extends Error {}

export interface ExchangeOptions {
  /** A socket made by `connectReusingBuffer`: its reads come through `onReads`. */
  socket: Socket;
  address: string;
  frame: Buffer;
  req: { taskId: string; number: number; kind: PieceKind };
  readTimeoutMs: number;
  signal?: AbortSignal;
  /** Called once with the socket when the response is fully read and the socket is reusable. */
  onReusable: (socket: Socket) => void;
  /** Called once when the exchange no longer owns the socket (after onReusable or destroy). */
  onDone: () => void;
  /**
   * A plain TCP socket's descriptor and d7y's native addon: once the header is in, the body is read
   * off the socket by the addon, a whole gather chunk per call, instead of by libuv a few KiB per
   * read (see VortexClientOptions.nativeReads).
   */
  native?: { addon: NativeAddon; fd: number };
}

type State = 'head' | 'body' | 'done';

/**
 * One request and its response on one connection. Resolves with the metadata and a body that
 * delivers exactly `meta.length` bytes at the consumer's pace (the socket pauses while the
 * consumer is busy, and the read timeout is suspended meanwhile).
 */
export function exchange(opts: ExchangeOptions): Promise<{ meta: PieceContentMeta; body: VortexPieceBody }> {
  const { socket, req, signal } = opts;
  const decoder = new VortexDecoder({ accept: 'responses' });
  let state: State = 'head';
  let gotBytes = false;
  let paused = false;
  let lastError: Error | undefined;
  let body: VortexPieceBody | undefined;
  let received = 0;
  let expected = 0;
  /** The body is read by the native addon (libuv reads nothing meanwhile). */
  let nativeBody = false;
  let job: object | undefined;
  let wakePump: (() => void) | undefined;

  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      state = 'done';
      if (job) opts.native!.addon.cancel(job);
      wakePump?.();
      onReads(socket, undefined);
      socket.off('close', onClose);
      socket.off('error', onError);
      socket.off('timeout', onTimeout);
      socket.setTimeout(0);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      const was = state;
      if (was === 'done') return;
      cleanup();
      socket.destroy();
      if (was === 'head') reject(err);
      else body?.fail(err);
      opts.onDone();
    };
    const finish = (reusable: boolean): void => {
      cleanup();
      if (reusable && decoder.atFrameBoundary) opts.onReusable(socket);
      else socket.destroy();
      opts.onDone();
    };
    const what = `piece ${req.number} of task ${req.taskId} from ${opts.address}`;
    const onData = (chunk: Buffer): boolean => {
      gotBytes = true;
      const events = decoder.push(chunk);
      for (let i = 0; i < events.length && state !== 'done'; i++) {
        handle(events[i], i === events.length - 1);
      }
      if (state === 'body' && opts.native && !nativeBody && decoder.bodyBytesRemaining > 0) {
        // The header is in: the rest of the body comes through the addon.
        nativeBody = true;
        socket.setTimeout(0);
        socket.pause();
        void pump();
        return false;
      }
      return !paused || state === 'done';
    };
    /** Reads the body natively, one gather chunk per call, at the consumer's pace. */
    const pump = async (): Promise<void> => {
      const { addon, fd } = opts.native!;
      while (state === 'body') {
        const target = paused ? undefined : body?.directTarget(decoder.bodyBytesRemaining);
        if (!target) {
          await new Promise<void>((resolve) => { wakePump = resolve; });
          wakePump = undefined;
          continue;
        }
        const b = body as VortexPieceBody;
        // Until its callback the read may write into the gather buffer, even after a cancel.
        b.lendGather();
        const { err, n } = await new Promise<{ err: Error | null; n: number }>((resolve) => {
          job = addon.recvInto(fd, target, 0, target.length, opts.readTimeoutMs, (e, got) => {
            job = undefined;
            b.gatherReturned();
            resolve({ err: e, n: got });
          });
        });
        if (err && state === 'body') {
          const at = `after ${received + n} of ${expected} bytes`;
          fail(/^no data/.test(err.message)
            ? new D7yError('D7Y_TIMEOUT', `${what}: no data for ${opts.readTimeoutMs} ms`, { fix: 'the parent is overloaded or unreachable; download from another parent' })
            : new D7yError('D7Y_PEER_UNAVAILABLE', `${what}: connection closed ${at}${/^the connection closed/.test(err.message) ? '' : ` (${err.message})`}`, {
              fix: 'download the piece from another parent',
            }));
        }
        if (err) return;
        if (state !== 'body') return;
        direct.landed(n);
      }
    };
    // Body bytes read straight into the body's gather buffer: no copy, no decoding.
    const direct: DirectReads = {
      target: () => (state === 'body' && !paused ? body?.directTarget(decoder.bodyBytesRemaining) : undefined),
      landed: (bytes) => {
        const b = body as VortexPieceBody;
        received += bytes;
        const whole = decoder.skipBody(bytes);
        b.landed(bytes);
        if (whole && state === 'body') {
          finish(true);
          b.end();
        }
        return !paused || state === 'done';
      },
    };
    const pause = (): void => {
      if (paused || state !== 'body') return;
      paused = true;
      if (nativeBody) return;
      socket.setTimeout(0);
      socket.pause();
    };
    const resume = (): void => {
      if (state !== 'body') return;
      if (nativeBody) {
        // Also when nothing paused: a body's consumer arriving (pipe) lets the reads begin.
        paused = false;
        wakePump?.();
        return;
      }
      if (!paused) return;
      paused = false;
      socket.setTimeout(opts.readTimeoutMs);
      socket.resume();
    };
    const handle = (ev: VortexEvent, last: boolean): void => {
      if (state === 'head' && ev.type === 'piece') {
        if (ev.tag !== vortexContentTagOf(req.kind) || ev.meta.number !== req.number) {
          fail(new D7yError('D7Y_PROTOCOL_ERROR', `${what}: the peer answered with piece ${ev.meta.number} (tag ${ev.tag})`));
          return;
        }
        state = 'body';
        expected = ev.meta.length;
        body = new VortexPieceBody({
          pause, resume,
          abort: (err) => {
            if (state === 'body') fail(err ?? new D7yError('D7Y_ABORTED', `${what}: body destroyed after ${received} of ${expected} bytes`));
          },
        });
        resolve({ meta: ev.meta, body });
      } else if (state === 'body' && ev.type === 'body') {
        received += ev.chunk.length;
        (body as VortexPieceBody).deliver(ev.chunk);
      } else if (state === 'body' && ev.type === 'body-end') {
        const b = body as VortexPieceBody;
        finish(last);
        b.end();
      } else if (state === 'head' && ev.type === 'error') {
        const err = errorFromVortexFrame(ev.code, ev.message, { address: opts.address, taskId: req.taskId, number: req.number });
        finish(last && ev.code !== VortexErrorCode.InvalidArgument);
        reject(err);
      } else if (ev.type === 'malformed') {
        fail(new D7yError('D7Y_PROTOCOL_ERROR', `${what}: ${ev.error.message}`, { cause: ev.error, fix: ev.error.fix }));
      } else if (state === 'head' && ev.type === 'challenge') {
        fail(new D7yError('D7Y_UNAUTHENTICATED', `${what}: the peer requires the cluster credential (it sent a Vortex auth challenge) and this node has none`, {
          fix: 'set security.clusterSecret (or clusterSecretFile) on this node to the secret every node of the cluster shares',
        }));
      } else if (ev.type === 'close') {
        fail(new D7yError('D7Y_PEER_UNAVAILABLE', `${what}: the peer closed the connection`, {
          fix: 'download the piece from another parent',
        }));
      } else {
        fail(new D7yError('D7Y_PROTOCOL_ERROR', `${what}: unexpected ${ev.type} frame`));
      }
    };
    const onClose = (): void => {
      if (state === 'head' && !gotBytes) {
        fail(new StaleConnectionError(`${what}: connection closed before a response${lastError ? ` (${lastError.message})` : ''}`));
        return;
      }
      const where = state === 'body' ? ` after ${received} of ${expected} bytes` : ' before a response';
      fail(new D7yError('D7Y_PEER_UNAVAILABLE', `${what}: connection closed${where}${lastError ? ` (${lastError.message})` : ''}`, {
        fix: 'download the piece from another parent', cause: lastError,
      }));
    };
    const onError = (err: Error): void => {
      lastError = err;
    };
    const onTimeout = (): void => {
      fail(new D7yError('D7Y_TIMEOUT', `${what}: no data for ${opts.readTimeoutMs} ms`, {
        fix: 'the parent is overloaded or unreachable; download from another parent',
      }));
    };
    const onAbort = (): void => {
      fail(new D7yError('D7Y_ABORTED', `${what}: aborted`, { cause: signal?.reason }));
    };
    onReads(socket, onData, direct);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.on('timeout', onTimeout);
    socket.setTimeout(opts.readTimeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) {
      onAbort();
      return;
    }
    socket.resume();
    socket.write(opts.frame);
  });
}
