import type { Readable } from 'node:stream';
import type { PieceFeed } from '../contracts/storage-medium.js';

export interface StreamPieceFeedOptions {
  /** Sees each chunk before the consumer does (a hasher). */
  tap?: (chunk: Buffer) => void;
  /** Names the input in errors (`piece 3 of task …`). */
  what?: string;
}

/**
 * A stream's chunks as a PieceFeed: read in flowing mode, chunk by chunk as they were pushed (never
 * through a byte-mode `read()`, which copies every buffered chunk into one new Buffer), paused
 * while the consumer's promise for a chunk is pending. `pipe` rejects with the stream's error, or
 * when it closes before its end; a stream that already ended gives nothing. `destroy` destroys the
 * stream (a running `pipe` rejects).
 */
export function streamPieceFeed(stream: Readable, opts: StreamPieceFeedOptions = {}): PieceFeed {
  const { tap, what } = opts;
  const premature = (how: string): Error =>
    Object.assign(new Error(`${what ? `${what}: ` : ''}the input stream ${how}`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  let piped = false;
  return {
    kind: 'piece-feed',
    destroy: () => void stream.destroy(),
    pipe: (onChunk) => {
      if (piped) return Promise.reject(new Error('a piece feed can be piped once'));
      piped = true;
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        let pending: Promise<void> | undefined;
        const finish = (err?: unknown): void => {
          if (settled) return;
          settled = true;
          stream.off('data', onData);
          stream.off('end', onEnd);
          stream.off('error', finish);
          stream.off('close', onClose);
          if (err === undefined) return resolve();
          stream.destroy();
          reject(err);
        };
        const onData = (raw: unknown): void => {
          if (settled) return;
          const chunk = Buffer.isBuffer(raw) ? raw : typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(raw as Uint8Array);
          try {
            tap?.(chunk);
            const wrote = onChunk(chunk);
            if (!wrote) return;
            stream.pause();
            pending = wrote.then(() => {
              pending = undefined;
              if (!settled) stream.resume();
            });
            pending.catch(finish);
          } catch (err) {
            finish(err);
          }
        };
        const onEnd = (): void => void (pending ?? Promise.resolve()).then(() => finish(), finish);
        const onClose = (): void => {
          if (!stream.readableEnded) finish(premature('closed before its end'));
        };
        if (stream.errored || stream.destroyed) return finish(stream.errored ?? premature('was destroyed before it was read'));
        if (stream.readableEnded) return onEnd();
        stream.on('error', finish);
        stream.on('end', onEnd);
        stream.on('close', onClose);
        stream.on('data', onData);
      });
    },
  };
}
