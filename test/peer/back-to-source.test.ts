import test from 'ava';
import { Readable } from 'node:stream';
import type { DownloadRequest, SourceClient } from '../../core/contracts/source-client.js';
import { silentLogger } from '../../core/logging/logger.js';
import { MemoryStorage } from '../../storage/memory/memory-storage.js';
import { BackToSource } from '../../core/roles/peer/download/back-to-source.js';
import { TaskState, type HeldPiece } from '../../core/roles/peer/tasks/task-state.js';
import { TokenBucket } from '../../core/roles/peer/token-bucket.js';

const K = 1024;

/** An origin that sends each range in small chunks with a pause between them, logging what it served. */
function slowOrigin(data: Buffer, log: string[]): SourceClient {
  return {
    schemes: ['http'],
    stat: async () => ({ url: 'http://origin/f', contentLength: data.length, supportsRange: true }),
    download: async (req: DownloadRequest) => {
      const { start, length } = req.range!;
      log.push(`start ${start / (16 * K)}`);
      const body = data.subarray(start, start + length);
      async function* chunks(): AsyncGenerator<Buffer> {
        for (let off = 0; off < body.length; off += 4 * K) {
          await new Promise((r) => setTimeout(r, 2));
          yield body.subarray(off, off + 4 * K);
        }
        log.push(`end ${start / (16 * K)}`);
      }
      return { stream: Readable.from(chunks()), contentLength: length };
    },
  } as SourceClient;
}

test('the first piece from the origin comes alone, so a swarm can start on it while the rest arrive side by side', async (t) => {
  const medium = new MemoryStorage({ capacity: 1024 * K });
  await medium.start?.();
  const data = Buffer.alloc(8 * 16 * K, 7);
  const state = new TaskState('t1');
  state.record = await medium.putTask({ taskId: 't1', contentLength: data.length, pieceLength: 16 * K });
  const log: string[] = [];
  const held: HeldPiece[] = [];
  const b2s = new BackToSource({ medium, concurrency: 4, limiter: new TokenBucket(0), logger: silentLogger() });
  await b2s.pieces(state, slowOrigin(data, log), { url: 'http://origin/f' }, true, [0, 1, 2, 3, 4, 5, 6, 7], (p) => { held.push(p); }, new AbortController().signal);
  t.deepEqual(log.slice(0, 2), ['start 0', 'end 0'], 'nothing else is fetched while the first piece is on its way');
  t.is(held[0]?.number, 0, 'the first piece is held first');
  let running = 0;
  let peak = 0;
  for (const e of log.slice(2)) {
    running += e.startsWith('start') ? 1 : -1;
    peak = Math.max(peak, running);
  }
  t.is(peak, 4, 'the rest are fetched four at a time');
  t.is(held.length, 8);
  t.true(await medium.hasPiece('t1', 7));
});

test('an origin body that fails before the medium reads it (a cancelled download) is a clean error, never a crash of the daemon', async (t) => {
  const medium = new MemoryStorage({ capacity: 1024 * K });
  await medium.start?.();
  const slowMedium = Object.create(medium) as MemoryStorage;
  slowMedium.writePiece = async (...args: Parameters<MemoryStorage['writePiece']>) => {
    await new Promise((r) => setTimeout(r, 50));
    return medium.writePiece(...args);
  };
  const state = new TaskState('t2');
  state.record = await medium.putTask({ taskId: 't2', contentLength: 16 * K, pieceLength: 16 * K });
  const ac = new AbortController();
  const origin = {
    schemes: ['http'],
    stat: async () => ({ url: 'http://origin/f', contentLength: 16 * K, supportsRange: true }),
    download: async () => {
      const stream = new Readable({ read() {} });
      setTimeout(() => { ac.abort(); stream.destroy(new Error('request to http://origin/f aborted')); }, 5);
      return { stream, contentLength: 16 * K };
    },
  } as unknown as SourceClient;
  const b2s = new BackToSource({ medium: slowMedium, concurrency: 1, limiter: new TokenBucket(0), logger: silentLogger() });
  await t.throwsAsync(b2s.pieces(state, origin, { url: 'http://origin/f' }, true, [0], () => undefined, ac.signal), { message: /abort/ });
  t.false(await medium.hasPiece('t2', 0));
});
