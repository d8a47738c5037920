import { Readable } from 'node:stream';
import type { PieceFeed } from '../contracts/storage-medium.js';

/**
 * A PieceFeed as a stream of Buffers (each chunk copied), for consumers of streams: at most four
 * chunks wait in the stream before the feed is held back. Destroying the stream before its end
 * destroys the feed.
 */
export function pieceFeedStream(feed: PieceFeed): Readable {
  let wake: (() => void) | undefined;
  let done = false;
  const readable = new Readable({
    objectMode: true,
    highWaterMark: 4,
    read: () => {
      const w = wake;
      wake = undefined;
      w?.();
    },
    destroy: (err, cb) => {
      if (!done) feed.destroy(err ?? undefined);
      cb(err);
    },
  });
  feed.pipe((chunk) => {
    if (!readable.push(Buffer.from(chunk))) return new Promise<void>((resolve) => { wake = resolve; });
    return undefined;
  }).then(() => {
    done = true;
    readable.push(null);
  }, (err: Error) => {
    done = true;
    readable.destroy(err);
  });
  return readable;
}
