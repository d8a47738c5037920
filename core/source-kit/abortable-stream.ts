import { PassThrough, pipeline, type Readable, type Transform } from 'node:stream';
import { D7yError } from '../errors/d7y-error.js';

/**
 * Pipes `body` through `verifier` (if any) into the returned stream, which is destroyed with
 * D7Y_ABORTED when `signal` aborts and with the first error of the chain otherwise. Destroying
 * the returned stream destroys `body`.
 */
export function abortableStream(body: Readable, verifier: Transform | undefined, signal: AbortSignal | undefined, what: string): Readable {
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const stages: (Readable | Transform)[] = verifier ? [body, verifier, out] : [body, out];
  const onAbort = () => {
    const err = new D7yError('D7Y_ABORTED', `${what}: aborted`, { fix: 'nothing to do: the caller cancelled the download' });
    out.destroy(err);
    body.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  pipeline(stages as [Readable, ...Transform[]], (err) => {
    signal?.removeEventListener('abort', onAbort);
    if (err && !out.destroyed) out.destroy(err);
  });
  out.on('close', () => { if (!body.destroyed) body.destroy(); });
  return out;
}
