import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import test from 'ava';
import { FEED_CHUNK_BYTES, type PieceFeed, type PieceReadable, type StorageMedium } from '../../../contracts/storage-medium.js';
import { pieceBuffers } from '../../../task/buffer-pool.js';
import { relayedPiece } from '../upload/relayed-piece.js';
import { keptForRelays, ReceivingPiece, RELAY_KEEP_BYTES } from './receiving-piece.js';

const CHUNK = FEED_CHUNK_BYTES;

/** A medium holding `data` that counts the bytes relays read back from it. */
function countingMedium(data: Buffer): { medium: StorageMedium; read: { bytes: number } } {
  const read = { bytes: 0 };
  const medium = {
    readWritten: async (_taskId: string, _piece: unknown, range: { start: number; length: number }): Promise<PieceReadable> => {
      read.bytes += range.length;
      return Readable.from([Buffer.from(data.subarray(range.start, range.start + range.length))]);
    },
  } as unknown as StorageMedium;
  return { medium, read };
}

/**
 * A transfer pushed by hand through `keptForRelays`, its consumer standing for the medium's write;
 * with `adoptable`, each pushed chunk is offered for adoption as a Vortex body offers its buffers.
 */
function transfer(r: ReceivingPiece, adoptable = false): { push(chunk: Buffer): void; end(): void; adopted: Buffer[] } {
  let consumer: ((chunk: Buffer) => void | Promise<void>) | undefined;
  let finish: (() => void) | undefined;
  let current: Buffer | undefined;
  const adopted: Buffer[] = [];
  const feed: PieceFeed = {
    kind: 'piece-feed',
    pipe: (onChunk) => {
      consumer = onChunk;
      return new Promise<void>((resolve) => { finish = resolve; });
    },
    destroy: () => undefined,
    ...(adoptable && {
      adopt: () => {
        const b = current;
        current = undefined;
        if (b) adopted.push(b);
        return b;
      },
    }),
  };
  let written = 0;
  void keptForRelays(feed, r).pipe((chunk) => {
    written += chunk.length;
    r.advance(written);
  });
  return {
    push: (chunk) => {
      current = chunk;
      void consumer?.(chunk);
      current = undefined;
    },
    end: () => { r.finish(); finish?.(); },
    adopted,
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

test('a relay right behind the transfer sends the kept bytes; only what came before it attached is read back', async (t) => {
  const data = randomBytes(4 * CHUNK + 1000);
  const r = new ReceivingPiece(3, 0, data.length, 'blake3:x');
  const { medium, read } = countingMedium(data);
  const tx = transfer(r);
  tx.push(data.subarray(0, CHUNK));
  const relay = relayedPiece(medium, 't', r, { start: 0, length: data.length });
  const out = collect(relay);
  await new Promise((resolve) => setImmediate(resolve));
  for (let at = CHUNK; at < data.length; at += CHUNK) {
    tx.push(data.subarray(at, Math.min(at + CHUNK, data.length)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  tx.end();
  t.true((await out).equals(data));
  t.is(read.bytes, CHUNK, 'the medium was read only for the first chunk');
});

test('a relay fallen further behind than the kept bytes reads the older ones from the medium, every byte right', async (t) => {
  const data = randomBytes(RELAY_KEEP_BYTES + 2 * CHUNK + 77);
  const r = new ReceivingPiece(0, 0, data.length, 'blake3:x');
  const { medium, read } = countingMedium(data);
  const tx = transfer(r);
  tx.push(data.subarray(0, 1));
  const relay = relayedPiece(medium, 't', r, { start: 0, length: data.length });
  for (let at = 1; at < data.length; at += CHUNK) tx.push(data.subarray(at, Math.min(at + CHUNK, data.length)));
  tx.end();
  t.true((await collect(relay)).equals(data));
  t.true(read.bytes >= data.length - RELAY_KEEP_BYTES, `read back ${read.bytes} bytes`);
  t.true(read.bytes < data.length, 'the newest bytes came from memory');
});

test('kept bytes are copies: a transfer reusing its read buffer does not change what a relay sends', async (t) => {
  const data = randomBytes(3 * CHUNK);
  const r = new ReceivingPiece(0, 0, data.length, 'blake3:x');
  const { medium } = countingMedium(data);
  const tx = transfer(r);
  const relay = relayedPiece(medium, 't', r, { start: 0, length: data.length });
  const reused = Buffer.alloc(CHUNK);
  for (let at = 0; at < data.length; at += CHUNK) {
    data.copy(reused, 0, at, at + CHUNK);
    tx.push(reused);
    reused.fill(0xee);
  }
  tx.end();
  t.true((await collect(relay)).equals(data));
});

test('with no relay reading, nothing is kept; after the last one stops, the kept bytes are dropped', async (t) => {
  const data = randomBytes(2 * CHUNK);
  const r = new ReceivingPiece(0, 0, data.length, 'blake3:x');
  const tx = transfer(r);
  tx.push(data.subarray(0, CHUNK));
  t.is(r.keptAt(0, data.length), undefined);
  const detach = r.attachRelay();
  tx.push(data.subarray(CHUNK));
  const view = r.keptAt(CHUNK, data.length);
  t.true(view?.bytes.equals(data.subarray(CHUNK)));
  view?.release();
  const short = r.keptAt(CHUNK, CHUNK + 10);
  t.is(short?.bytes.length, 10, 'never past the end asked for');
  short?.release();
  detach();
  t.is(r.keptAt(CHUNK, data.length), undefined);
});

test('a kept buffer goes back to the pool only once the piece dropped it and every lent view was released', (t) => {
  const r = new ReceivingPiece(0, 0, 2 * CHUNK, 'blake3:x');
  const detach = r.attachRelay();
  r.received(0, Buffer.alloc(CHUNK, 7));
  r.advance(CHUNK);
  const lent = r.keptAt(0, CHUNK)!;
  const idle = pieceBuffers.idleCount;
  detach();
  t.is(pieceBuffers.idleCount, idle, 'a view is still lent: the buffer stays out of the pool');
  t.true(lent.bytes.every((b) => b === 7), 'the lent bytes are intact');
  lent.release();
  lent.release();
  t.is(pieceBuffers.idleCount, idle + 1, 'given back once, after the last release');
});

test('kept bytes not yet written are not served', (t) => {
  const r = new ReceivingPiece(0, 0, 2 * CHUNK, 'blake3:x');
  const detach = r.attachRelay();
  r.received(0, Buffer.alloc(CHUNK, 1));
  t.is(r.keptAt(0, 2 * CHUNK), undefined, 'nothing written yet');
  r.advance(100);
  t.is(r.keptAt(0, 2 * CHUNK)?.bytes.length, 100);
  detach();
});

test('kept bytes are the feed\'s own buffers when it hands them over: no copy, and every byte right', async (t) => {
  const data = randomBytes(3 * CHUNK + 5);
  const r = new ReceivingPiece(0, 0, data.length, 'blake3:x');
  const { medium, read } = countingMedium(data);
  const tx = transfer(r, true);
  const relay = relayedPiece(medium, 't', r, { start: 0, length: data.length });
  const lent: Buffer[] = [];
  relay.on('data', (c: Buffer) => lent.push(c));
  const ended = new Promise((resolve) => relay.once('end', resolve));
  for (let at = 0; at < data.length; at += CHUNK) {
    const own = pieceBuffers.take();
    const n = data.copy(own, 0, at, Math.min(at + CHUNK, data.length));
    tx.push(own.subarray(0, n));
    await new Promise((resolve) => setImmediate(resolve));
  }
  tx.end();
  await ended;
  t.is(tx.adopted.length, 4, 'every chunk was adopted');
  t.is(read.bytes, 0, 'nothing was read back from the medium');
  t.true(lent.every((c, i) => c.buffer === tx.adopted[i]!.buffer), 'the relay sent views of the adopted buffers');
  t.true(Buffer.concat(lent).equals(data));
});
