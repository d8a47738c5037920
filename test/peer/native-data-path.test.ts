import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { nativeAddon, type NativeAddon } from '../../core/native/native-addon.js';
import { VortexClient, VortexServer } from '../../core/protocol/vortex/index.js';
import { encodePieceContentFrame } from '../../core/protocol/vortex/vortex-frames.js';
import { TaskState } from '../../core/roles/peer/tasks/task-state.js';
import type { TaskCatalog } from '../../core/roles/peer/tasks/task-catalog.js';
import { TokenBucket } from '../../core/roles/peer/token-bucket.js';
import { UploadPieceProvider } from '../../core/roles/peer/upload/upload-piece-provider.js';
import { UploadStats } from '../../core/roles/peer/upload/upload-stats.js';
import { UploadSlots } from '../../core/roles/peer/upload/upload-slots.js';
import { pieceDigest } from '../../core/task/piece-digest.js';
import { readAll } from '../../core/testing/storage-medium-contract.js';
import { stalledReader } from '../../core/testing/stalled-reader.js';
import { DiskStorage } from '../../storage/disk/disk-storage.js';
import { tmpDir } from '../support/env.js';

const MIB = 1024 * 1024;
const LEN = 8 * MIB;
const TASK = 'c'.repeat(64);

/** The real addon (npm test builds it), counting the bytes it was asked to send and to read. */
function countingAddon(): NativeAddon & { bytes: number; calls: number; reads: number; readBytes: number } {
  const { addon, why } = nativeAddon();
  if (!addon) throw new Error(why);
  const counted = {
    bytes: 0,
    calls: 0,
    reads: 0,
    readBytes: 0,
    sendFile: (...args: Parameters<NativeAddon['sendFile']>) => {
      counted.calls += 1;
      counted.bytes += args[3];
      return addon.sendFile(...args);
    },
    recvInto: (...args: Parameters<NativeAddon['recvInto']>) => {
      counted.reads += 1;
      counted.readBytes += args[3];
      return addon.recvInto(...args);
    },
    cancel: (job: object) => addon.cancel(job),
  };
  return counted;
}

async function peer(t: ExecutionContext, opts: { sendFile?: NativeAddon; nativeReads?: NativeAddon; writeTimeoutMs?: number; rate?: number; encryption?: boolean } = {}) {
  const dir = await tmpDir(t, 'd7y-sendfile-');
  let encryption: { keyFile: string } | undefined;
  if (opts.encryption) {
    const { writeFile } = await import('node:fs/promises');
    encryption = { keyFile: `${dir}/key` };
    await writeFile(encryption.keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  const disk = new DiskStorage({ dir: `${dir}/data`, encryption });
  await disk.start();
  t.teardown(() => disk.stop());
  const state = new TaskState(TASK);
  state.record = await disk.putTask({ taskId: TASK, url: 'https://origin.example/f', pieceLength: LEN, contentLength: 2 * LEN });
  const tasks = { find: async (id: string) => (id === TASK ? state : undefined) } as unknown as TaskCatalog;
  const stats = new UploadStats();
  const provider = new UploadPieceProvider(tasks, disk, new TokenBucket(opts.rate ?? 0), stats, () => 'parent', undefined, undefined, 0,
    { slotReleaseMs: 1_000, cutMs: opts.writeTimeoutMs ?? 5_000 });
  const server = new VortexServer({ host: '127.0.0.1', port: 0, provider, sendFile: opts.sendFile, writeTimeoutMs: opts.writeTimeoutMs });
  await server.start();
  t.teardown(() => server.stop());
  const client = new VortexClient({ readTimeoutMs: 10_000, nativeReads: opts.nativeReads });
  t.teardown(() => client.close());
  return { disk, state, server, client, stats, addr: { host: '127.0.0.1', port: server.port } };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('held pieces go out by sendfile byte-exact, one after the other on one connection, counted in the upload stats', async (t) => {
  const addon = countingAddon();
  const { disk, state, client, stats, addr, server } = await peer(t, { sendFile: addon });
  const pieces = [randomBytes(LEN), randomBytes(LEN)];
  for (const [n, data] of pieces.entries()) {
    state.addPiece({ ...(await disk.writePiece(TASK, { number: n, offset: n * LEN, length: LEN }, data)), createdAt: Date.now() });
  }
  for (const [n, data] of pieces.entries()) {
    const { meta, body } = await client.downloadPiece(addr, { taskId: TASK, number: n });
    t.is(meta.length, LEN);
    t.is(meta.digest, pieceDigest(data));
    t.true((await readAll(body)).equals(data), `piece ${n} arrives byte-exact`);
  }
  t.is(addon.bytes, 2 * LEN, 'every byte went by sendfile');
  t.is(addon.calls, 2 * (LEN / MIB), 'in slices of 1 MiB');
  t.is(server.acceptedConnections, 1, 'the header of the second piece follows the first piece on the same connection');
  await until('the stats to count both sends', () => stats.successCount === 2);
  t.is(stats.sentBytes, 2 * LEN);
});

test('a piece still arriving is sent by sendfile as its bytes land; the child gets it byte-exact', async (t) => {
  const addon = countingAddon();
  const { disk, state, client, addr } = await peer(t, { sendFile: addon });
  const data = randomBytes(LEN);
  const digest = pieceDigest(data);
  const upstream = new PassThrough();
  const receiving = state.startReceiving({ number: 0, offset: 0, length: LEN, digest });
  const writing = disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, upstream, digest, { onWritten: (b) => receiving.advance(b) });
  upstream.write(data.subarray(0, MIB));
  await until('the first MiB to be written', () => receiving.written >= MIB);
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  const reading = readAll(body);
  await until('the first MiB to be sent', () => addon.bytes >= MIB);
  t.false(receiving.done, 'bytes went out before the piece was whole here');
  upstream.end(data.subarray(MIB));
  state.addPiece({ ...(await writing), createdAt: Date.now() });
  state.endReceiving(receiving, undefined);
  t.true((await reading).equals(data), 'the whole piece arrives, byte-exact');
  t.is(addon.bytes, LEN);
});

test('a piece whose arrival fails here ends the send and closes the connection', async (t) => {
  const addon = countingAddon();
  const { disk, state, client, addr } = await peer(t, { sendFile: addon });
  const data = randomBytes(LEN);
  const upstream = new PassThrough();
  const receiving = state.startReceiving({ number: 0, offset: 0, length: LEN, digest: pieceDigest(data) });
  const writing = disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, upstream, pieceDigest(data), { onWritten: (b) => receiving.advance(b) });
  upstream.write(data.subarray(0, MIB));
  await until('the first MiB to be written', () => receiving.written >= MIB);
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  const reading = readAll(body);
  upstream.destroy(new Error('parent went away'));
  state.endReceiving(receiving, await writing.catch((e: unknown) => e));
  const err = await t.throwsAsync(reading);
  t.regex(err?.message ?? '', /closed|ended|short|before/i, 'the child sees the piece end early, not a hang');
});

test('a child that stops reading is cut after the write time-out; the server stays up for the next', async (t) => {
  const addon = countingAddon();
  const { disk, state, client, addr, server } = await peer(t, { sendFile: addon, writeTimeoutMs: 300 });
  const data = randomBytes(LEN);
  state.addPiece({ ...(await disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, data)), createdAt: Date.now() });
  const closedAfter = await stalledReader(addr, TASK, 0);
  t.not(closedAfter, undefined, 'the server closed the connection');
  t.true(closedAfter! < 5_000, `closed after ${closedAfter} ms`);
  t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 0 })).body)).equals(data), 'the next child is served');
  await until('the cut connection to be gone', () => server.openConnections === 1);
});

test('a child that closes mid-piece ends the send at once; the upload rate limit paces sendfile too', async (t) => {
  const addon = countingAddon();
  const { disk, state, client, addr, server } = await peer(t, { sendFile: addon, rate: 4 * MIB });
  const data = randomBytes(LEN);
  state.addPiece({ ...(await disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, data)), createdAt: Date.now() });
  const started = Date.now();
  t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 0 })).body)).equals(data));
  const took = Date.now() - started;
  t.true(took >= 700, `8 MiB at 4 MiB/s took ${took} ms (after a burst of one second's worth, about 1 s)`);

  const ac = new AbortController();
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 }, { signal: ac.signal });
  let got = 0;
  await t.throwsAsync(async () => {
    for await (const chunk of body) {
      got += (chunk as Buffer).length;
      if (got >= MIB) ac.abort();
    }
  });
  await until('the server to drop the connection', () => server.openConnections === 0, 3_000);
  t.true(addon.bytes < 2 * LEN, 'the rest of the piece was not sent');
});

test('over an encrypted disk, or without the addon, pieces pass through JavaScript and arrive the same', async (t) => {
  const addon = countingAddon();
  for (const opts of [{ sendFile: addon, encryption: true }, { sendFile: undefined }]) {
    const { disk, state, client, addr } = await peer(t, opts);
    const data = randomBytes(LEN);
    state.addPiece({ ...(await disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, data)), createdAt: Date.now() });
    t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 0 })).body)).equals(data));
  }
  t.is(addon.calls, 0, 'sendfile never sent encrypted bytes');
});

test('over an encrypted disk a send waits for its upload slot once: the medium is asked for a plain file before the slot', async (t) => {
  const { disk, state } = await peer(t, { encryption: true });
  const data = randomBytes(LEN);
  state.addPiece({ ...(await disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, data)), createdAt: Date.now() });
  const tasks = { find: async (id: string) => (id === TASK ? state : undefined) } as unknown as TaskCatalog;
  const slots = new UploadSlots(1);
  const provider = new UploadPieceProvider(tasks, disk, new TokenBucket(0), new UploadStats(), () => 'parent', undefined, slots);
  const busy = await slots.acquire();
  let timer: NodeJS.Timeout | undefined;
  const file = await Promise.race([provider.getPieceFile({ taskId: TASK, number: 0 }), new Promise((r) => { timer = setTimeout(() => r('still waiting'), 2_000); })]);
  clearTimeout(timer);
  t.is(file, undefined, 'no file to send, said without waiting for the slot another send holds');
  if (file !== undefined) return;
  let served = false;
  const piece = provider.getPiece({ taskId: TASK, number: 0 }).then((p) => { served = true; return p; });
  await new Promise((r) => setTimeout(r, 100));
  t.false(served, 'the stream waits for the slot');
  busy();
  const { body } = await piece;
  t.true((await readAll(body)).equals(data), 'and is served once it is free');
});


test('with native reads, bodies sent by sendfile arrive byte-exact in 256 KiB reads, one piece after the other on one connection', async (t) => {
  const addon = countingAddon();
  const { disk, state, client, addr, server } = await peer(t, { sendFile: addon, nativeReads: addon });
  const pieces = [randomBytes(LEN), randomBytes(LEN)];
  for (const [n, data] of pieces.entries()) {
    state.addPiece({ ...(await disk.writePiece(TASK, { number: n, offset: n * LEN, length: LEN }, data)), createdAt: Date.now() });
  }
  for (const [n, data] of pieces.entries()) {
    const { body } = await client.downloadPiece(addr, { taskId: TASK, number: n });
    t.true((await readAll(body)).equals(data), `piece ${n} arrives byte-exact`);
  }
  t.is(server.acceptedConnections, 1, 'the connection is reused after a natively read body');
  t.true(addon.readBytes > LEN, `most of the bytes were read natively (${addon.readBytes} of ${2 * LEN})`);
  t.true(addon.reads <= (2 * LEN) / (256 * 1024) + 2, `in ${addon.reads} reads`);
});

test('with native reads, a consumer that comes late and then is slow holds the reads back and still gets every byte', async (t) => {
  const addon = countingAddon();
  const { disk, state, client, addr } = await peer(t, { nativeReads: addon });
  const data = randomBytes(LEN);
  state.addPiece({ ...(await disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, data)), createdAt: Date.now() });
  const { body } = await client.openPiece(addr, { taskId: TASK, number: 0 });
  await new Promise((r) => setTimeout(r, 200));
  const got: Buffer[] = [];
  await body.pipe(async (chunk) => {
    got.push(Buffer.from(chunk));
    await new Promise((r) => setTimeout(r, 5));
  });
  t.true(Buffer.concat(got).equals(data));
  t.true(addon.reads > 0);
});

/** A Vortex server by hand: answers a request with the header of a `length`-byte piece, then `send(socket)`. */
async function rawParent(t: ExecutionContext, length: number, send: (s: Socket) => void): Promise<{ host: string; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write(encodePieceContentFrame(1, 'standard', {
        number: 0, offset: 0, length, digest: 'crc32:0', parentId: 'raw', trafficType: 1, cost: 0, createdAt: 0,
      }));
      send(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { server.close(); });
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

test('with native reads, a parent that closes mid-body, one that stalls, and an abort each end the piece with a clear error and no hang', async (t) => {
  const addon = countingAddon();
  const client = new VortexClient({ readTimeoutMs: 500, nativeReads: addon });
  t.teardown(() => client.close());

  const closing = await rawParent(t, MIB, (s) => s.end(randomBytes(300 * 1024)));
  const { body: cut } = await client.downloadPiece(closing, { taskId: TASK, number: 0 });
  const closed = await t.throwsAsync(readAll(cut));
  t.regex(closed?.message ?? '', /closed after \d+ of 1048576 bytes/);

  const stalling = await rawParent(t, MIB, (s) => s.write(randomBytes(300 * 1024)));
  const started = Date.now();
  const { body: stalled } = await client.downloadPiece(stalling, { taskId: TASK, number: 0 });
  const timedOut = await t.throwsAsync(readAll(stalled));
  t.is((timedOut as { code?: string }).code, 'D7Y_TIMEOUT');
  t.true(Date.now() - started < 3_000, `timed out after ${Date.now() - started} ms`);

  const ac = new AbortController();
  const slow = await rawParent(t, MIB, (s) => s.write(randomBytes(300 * 1024)));
  const { body: aborted } = await client.downloadPiece(slow, { taskId: TASK, number: 0 }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const abortErr = await t.throwsAsync(readAll(aborted));
  t.is((abortErr as { code?: string }).code, 'D7Y_ABORTED');
  t.true(addon.reads >= 3, 'the bodies were read natively');
});

test('with native reads, a parent that trickles bytes slower than a read fills is not taken for a stall, and its connection serves the next piece', async (t) => {
  const addon = countingAddon();
  const client = new VortexClient({ readTimeoutMs: 400, nativeReads: addon });
  t.teardown(() => client.close());
  const length = 96 * 1024;
  const bodies = [randomBytes(length), randomBytes(length)];
  let connections = 0;
  let answered = 0;
  const server = createServer((s) => {
    connections += 1;
    s.on('error', () => undefined);
    s.on('data', () => {
      const body = bodies[answered]!;
      answered += 1;
      s.write(encodePieceContentFrame(1, 'standard', {
        number: 0, offset: 0, length, digest: 'crc32:0', parentId: 'raw', trafficType: 1, cost: 0, createdAt: 0,
      }));
      // 4 KiB every 25 ms: the whole body takes 600 ms, longer than the read time-out, and no gap is.
      let at = 0;
      const tick = setInterval(() => {
        if (s.destroyed || at >= length) return clearInterval(tick);
        s.write(body.subarray(at, at + 4096));
        at += 4096;
      }, 25);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { server.close(); });
  const addr = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  for (const [n, data] of bodies.entries()) {
    const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
    t.true((await readAll(body)).equals(data), `piece ${n} arrives byte-exact`);
  }
  t.is(connections, 1, 'the second request went over the same connection, its header read by the event loop');
  t.true(addon.reads >= 2, 'the bodies were read natively');
});

test('with native reads, a connection whose last body ended on a large receive mark reads the next small answer at once', async (t) => {
  const addon = countingAddon();
  const client = new VortexClient({ readTimeoutMs: 2_000, nativeReads: addon });
  t.teardown(() => client.close());
  const big = randomBytes(256 * 1024);
  const small = randomBytes(1024);
  let answered = 0;
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', () => {
      const first = answered === 0;
      answered += 1;
      const body = first ? big : small;
      s.write(encodePieceContentFrame(1, 'standard', {
        number: 0, offset: 0, length: body.length, digest: 'crc32:0', parentId: 'raw', trafficType: 1, cost: 0, createdAt: 0,
      }));
      if (!first) {
        s.write(body);
        return;
      }
      // A little, then after a pause the rest at once: the read waits for all of it on a mark near 248 KiB.
      s.write(body.subarray(0, 8192));
      setTimeout(() => s.write(body.subarray(8192)), 150);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { server.close(); });
  const addr = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  const { body: first } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  t.true((await readAll(first)).equals(big));
  const started = Date.now();
  const { body: second } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  t.true((await readAll(second)).equals(small));
  t.true(Date.now() - started < 1_000, `the next answer took ${Date.now() - started} ms`);
});
