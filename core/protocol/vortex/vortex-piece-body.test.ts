import { randomBytes } from 'node:crypto';
import test from 'ava';
import { FEED_CHUNK_BYTES } from '../../contracts/storage-medium.js';
import { pieceBuffers } from '../../task/buffer-pool.js';
import { VortexPieceBody } from './vortex-piece-body.js';

function control() {
  const calls = { pause: 0, resume: 0, aborted: undefined as Error | undefined };
  return {
    calls,
    control: { pause: () => { calls.pause++; }, resume: () => { calls.resume++; }, abort: (err: Error | undefined) => { calls.aborted = err; } },
  };
}

/** Delivers `data` in reads of `read` bytes through one reused buffer, as a socket does. */
function deliverInReads(body: VortexPieceBody, data: Buffer, read: number): void {
  const readBuffer = Buffer.alloc(read);
  for (let off = 0; off < data.length; off += read) {
    const n = data.copy(readBuffer, 0, off, Math.min(off + read, data.length));
    body.deliver(readBuffer.subarray(0, n));
    readBuffer.fill(0xee);
  }
  body.end();
}

test('small socket reads reach the consumer gathered in whole feed chunks, then the rest, byte for byte', async (t) => {
  const data = randomBytes(FEED_CHUNK_BYTES * 2 + 12_345);
  const { control: c } = control();
  const body = new VortexPieceBody(c);
  const sizes: number[] = [];
  const got: Buffer[] = [];
  const piped = body.pipe((chunk) => { sizes.push(chunk.length); got.push(Buffer.from(chunk)); });
  deliverInReads(body, data, 7_000);
  await piped;
  t.deepEqual(sizes, [FEED_CHUNK_BYTES, FEED_CHUNK_BYTES, 12_345]);
  t.true(Buffer.concat(got).equals(data), 'the bytes are the piece\'s, in order');
});

test('a consumer that makes the body wait pauses the socket, and every byte still arrives in order', async (t) => {
  const data = randomBytes(FEED_CHUNK_BYTES * 3 + 1);
  const { control: c, calls } = control();
  const body = new VortexPieceBody(c);
  const got: Buffer[] = [];
  const piped = body.pipe(async (chunk) => {
    got.push(Buffer.from(chunk));
    await new Promise((r) => setTimeout(r, 5));
  });
  deliverInReads(body, data, 100_000);
  await piped;
  t.true(Buffer.concat(got).equals(data));
  t.true(calls.pause > 0, 'the socket was paused while the consumer was busy');
});

test('bytes that arrive before the consumer is attached are kept and handed over', async (t) => {
  const data = randomBytes(50_000);
  const { control: c } = control();
  const body = new VortexPieceBody(c);
  deliverInReads(body, data, 4_096);
  const got: Buffer[] = [];
  await body.pipe((chunk) => { got.push(Buffer.from(chunk)); });
  t.true(Buffer.concat(got).equals(data));
});

test('a transfer that fails mid-body rejects the pipe and the consumer hears of no more bytes', async (t) => {
  const { control: c } = control();
  const body = new VortexPieceBody(c);
  let bytes = 0;
  const piped = body.pipe((chunk) => { bytes += chunk.length; });
  body.deliver(randomBytes(FEED_CHUNK_BYTES + 10));
  body.fail(new Error('connection reset'));
  body.deliver(randomBytes(FEED_CHUNK_BYTES));
  body.end();
  await t.throwsAsync(piped, { message: 'connection reset' });
  t.is(bytes, FEED_CHUNK_BYTES, 'only the chunk completed before the failure was fed');
});

test.serial('bytes held while the consumer is busy go into pooled buffers, and every one is given back', async (t) => {
  const data = randomBytes(FEED_CHUNK_BYTES * 4 + 999);
  const { control: c } = control();
  const body = new VortexPieceBody(c);
  const out = new Set<ArrayBufferLike>();
  const { take, give } = pieceBuffers;
  let taken = 0;
  pieceBuffers.take = () => { const b = take.call(pieceBuffers); out.add(b.buffer); taken++; return b; };
  pieceBuffers.give = (b) => { out.delete(b.buffer); give.call(pieceBuffers, b); };
  t.teardown(() => { pieceBuffers.take = take; pieceBuffers.give = give; });
  const got: Buffer[] = [];
  const piped = body.pipe(async (chunk) => {
    got.push(Buffer.from(chunk));
    await new Promise((r) => setTimeout(r, 2));
  });
  deliverInReads(body, data, FEED_CHUNK_BYTES);
  await piped;
  t.true(Buffer.concat(got).equals(data));
  t.true(taken > 1, 'reads that came while the consumer was busy were held in pool buffers');
  t.is(out.size, 0, 'every pool buffer is given back');
});

test('reads straight into the gather buffer reach the consumer in whole feed chunks, and none land while it is busy', async (t) => {
  const data = randomBytes(FEED_CHUNK_BYTES * 2 + 5_000);
  const { control: c } = control();
  const body = new VortexPieceBody(c);
  t.is(body.directTarget(data.length), undefined, 'no view before a consumer is attached');
  let release: (() => void) | undefined;
  const got: Buffer[] = [];
  const piped = body.pipe((chunk) => {
    got.push(Buffer.from(chunk));
    if (got.length === 1) return new Promise<void>((r) => { release = r; });
  });
  let off = 0;
  // Reads of at most 10,000 bytes into the views the body gives, as a socket with its own buffers does.
  const readInto = (): boolean => {
    const view = body.directTarget(data.length - off);
    if (!view) return false;
    const n = data.copy(view, 0, off, off + Math.min(view.length, 10_000));
    off += n;
    body.landed(n);
    return true;
  };
  while (off < FEED_CHUNK_BYTES) t.true(readInto());
  t.is(got.length, 1, 'the first whole chunk went to the consumer');
  t.false(readInto(), 'no view while the consumer has not settled its chunk');
  release!();
  await new Promise((r) => setImmediate(r));
  while (off < data.length) t.true(readInto());
  const last = body.directTarget(1);
  t.is(last?.length, 1, 'a view is never longer than what the body still expects');
  body.end();
  await piped;
  t.deepEqual(got.map((g) => g.length), [FEED_CHUNK_BYTES, FEED_CHUNK_BYTES, 5_000]);
  t.true(Buffer.concat(got).equals(data), 'the bytes are the piece\'s, in order');
});

test('a gather buffer lent to a read that is still under way goes back to the pool only when the read returns it', async (t) => {
  const { control: c } = control();
  const body = new VortexPieceBody(c);
  const piped = body.pipe(() => undefined);
  const view = body.directTarget(FEED_CHUNK_BYTES)!;
  t.truthy(view);
  body.lendGather();
  const idle = pieceBuffers.idleCount;
  body.fail(new Error('parent went away'));
  await t.throwsAsync(piped, { message: 'parent went away' });
  t.is(pieceBuffers.idleCount, idle, 'the buffer a read may still write into is not handed out again');
  body.gatherReturned();
  t.is(pieceBuffers.idleCount, idle + 1, 'once the read returned it, the buffer is back in the pool');
});
