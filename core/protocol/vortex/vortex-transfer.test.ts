import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { D7yError } from '../../errors/d7y-error.js';
import { VortexClient, VortexServer } from './index.js';
import { encodeDownloadPieceFrame } from './vortex-frames.js';
import { stalledReader } from '../../testing/stalled-reader.js';
import type { PieceProvider, PieceRequest, VortexClientOptions, VortexServerOptions } from './index.js';

const TASK = 'ab'.repeat(32);
const MiB = 1024 * 1024;

/** Serves pieces from memory, in 256 KiB chunks, counting the bytes the server pulled from each body. */
class MemoryProvider implements PieceProvider {
  readonly pieces = new Map<string, Buffer>();
  pulled = 0;
  gate: Promise<void> | undefined;
  failWith: Error | undefined;
  breakAfter: number | undefined;
  /** When set, the provider offers `recycle` and counts the bytes given back. */
  lending = false;
  recycled = 0;
  /** When set, a body is one chunk followed at once by its end (a medium that read the whole piece). */
  oneChunk = false;

  add(number: number, data: Buffer, kind = 'standard'): Buffer {
    this.pieces.set(`${kind}/${TASK}/${number}`, data);
    return data;
  }

  async getPiece(req: PieceRequest): ReturnType<PieceProvider['getPiece']> {
    await this.gate;
    if (this.failWith) throw this.failWith;
    const data = this.pieces.get(`${req.kind}/${req.taskId}/${req.number}`);
    if (!data) throw new D7yError('D7Y_PIECE_NOT_FOUND', `piece ${req.number} is not here`);
    const meta = {
      number: req.number, offset: req.number * 4 * MiB, length: data.length, digest: `crc32:${crc32(data)}`,
      parentId: 'peer-a', trafficType: 1, cost: 2, createdAt: 1_700_000_000,
    };
    let at = 0;
    const body = new Readable({
      read: () => {
        if (this.oneChunk) {
          this.pulled += data.length;
          body.push(data);
          body.push(null);
          return;
        }
        if (this.breakAfter !== undefined && at >= this.breakAfter) {
          body.destroy(new Error('disk read failed'));
          return;
        }
        const chunk = data.subarray(at, at + 256 * 1024);
        at += chunk.length;
        this.pulled += chunk.length;
        body.push(chunk.length > 0 ? chunk : null);
      },
    });
    return { meta, body, recycle: this.lending ? (chunk: Buffer) => { this.recycled += chunk.length; } : undefined };
  }
}

async function setup(t: ExecutionContext, server: Partial<VortexServerOptions> = {}, client: VortexClientOptions = {}) {
  const provider = new MemoryProvider();
  const srv = new VortexServer({ host: '127.0.0.1', port: 0, provider, ...server });
  await srv.start();
  t.teardown(() => srv.stop());
  const cli = new VortexClient({ readTimeoutMs: 5_000, ...client });
  t.teardown(() => cli.close());
  return { provider, server: srv, client: cli, addr: { host: '127.0.0.1', port: srv.port } };
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a 64 MiB piece streams from server to client intact (crc32), with its metadata', async (t) => {
  const { provider, client, addr } = await setup(t);
  const data = provider.add(5, randomBytes(64 * MiB));
  const { meta, body } = await client.downloadPiece(addr, { taskId: TASK, number: 5 });
  t.deepEqual(meta, {
    number: 5, offset: 20 * MiB, length: 64 * MiB, digest: `crc32:${crc32(data)}`,
    parentId: 'peer-a', trafficType: 1, cost: 2, createdAt: 1_700_000_000,
  });
  let crc = 0;
  let bytes = 0;
  let largest = 0;
  for await (const chunk of body) {
    crc = crc32(chunk as Buffer, crc);
    bytes += (chunk as Buffer).length;
    largest = Math.max(largest, (chunk as Buffer).length);
  }
  t.is(bytes, 64 * MiB);
  t.is(`crc32:${crc >>> 0}`, meta.digest);
  t.true(largest <= 4 * MiB, `the body arrives in chunks, largest ${largest}`);
});

test('many requests in sequence reuse one connection', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  const pieces = Array.from({ length: 40 }, (_, i) => provider.add(i, randomBytes(1000 + i * 777)));
  for (let i = 0; i < pieces.length; i++) {
    const { meta, body } = await client.downloadPiece(addr, { taskId: TASK, number: i });
    t.is(meta.number, i);
    t.true((await readAll(body)).equals(pieces[i]));
  }
  const empty = provider.add(99, Buffer.alloc(0), 'cache');
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 99, kind: 'cache' });
  t.true((await readAll(body)).equals(empty));
  t.is(server.acceptedConnections, 1);
  t.is(server.servedPieces, 41);
  t.is(client.idleConnections, 1);
});

test('concurrent requests use separate connections, which are pooled afterwards', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  const pieces = Array.from({ length: 4 }, (_, i) => provider.add(i, randomBytes(3 * MiB)));
  let open!: () => void;
  provider.gate = new Promise((r) => { open = r; });
  const pending = pieces.map((_, i) => client.downloadPiece(addr, { taskId: TASK, number: i }));
  await until('four connections', () => server.acceptedConnections === 4);
  open();
  const bodies = await Promise.all(pending.map(async (p) => readAll((await p).body)));
  bodies.forEach((b, i) => t.true(b.equals(pieces[i])));
  t.is(client.idleConnections, 4);
  await Promise.all(pieces.map(async (_, i) => readAll((await client.downloadPiece(addr, { taskId: TASK, number: i })).body)));
  t.is(server.acceptedConnections, 4);
});

test('a missing piece is D7Y_PIECE_NOT_FOUND and the connection stays usable', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  const data = provider.add(1, randomBytes(1000));
  const err = await t.throwsAsync(client.downloadPiece(addr, { taskId: TASK, number: 2 }));
  t.is((err as D7yError).code, 'D7Y_PIECE_NOT_FOUND');
  t.regex(err?.message ?? '', /piece 2 of task (ab){32} from 127\.0\.0\.1:\d+: not found \(piece 2 is not here\)/);
  t.is((await t.throwsAsync(client.downloadPiece(addr, { taskId: TASK, number: 1, kind: 'persistent' })) as D7yError).code, 'D7Y_PIECE_NOT_FOUND');
  provider.failWith = new Error('disk on fire');
  const internal = await t.throwsAsync(client.downloadPiece(addr, { taskId: TASK, number: 1 }));
  t.is((internal as D7yError).code, 'D7Y_PEER_UNAVAILABLE');
  t.regex(internal?.message ?? '', /disk on fire/);
  provider.failWith = undefined;
  t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 1 })).body)).equals(data));
  t.is(server.acceptedConnections, 1);
});

test('a slow consumer holds the server back: the socket pauses instead of buffering the piece', async (t) => {
  const { provider, client, addr } = await setup(t);
  const data = provider.add(0, randomBytes(64 * MiB));
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  await new Promise((r) => setTimeout(r, 400));
  t.true(provider.pulled < 24 * MiB, `server pulled only ${provider.pulled} bytes while nobody read`);
  t.true((await readAll(body)).equals(data));
});

test('a body that ends while its last chunk still waits for the socket to drain is sent whole (not cut short)', async (t) => {
  const { provider, client, addr } = await setup(t);
  provider.oneChunk = true;
  for (let i = 0; i < 5; i++) {
    const data = provider.add(i, randomBytes(8 * MiB));
    const { body } = await client.downloadPiece(addr, { taskId: TASK, number: i });
    await new Promise((r) => setTimeout(r, 50));
    t.true((await readAll(body)).equals(data), `piece ${i} arrived whole`);
  }
});

test('a client that stops reading is cut after the write time-out, also when all that waits is the last chunk of a piece', async (t) => {
  const { provider, addr } = await setup(t, { writeTimeoutMs: 300 });
  provider.oneChunk = true;
  provider.add(0, randomBytes(48 * MiB));
  // The body ended at once (one chunk): only the socket's drain is left to wait on.
  const closedAfter = await stalledReader(addr, TASK, 0);
  t.not(closedAfter, undefined, 'the server closed the connection');
  t.true(closedAfter! < 5_000, `closed after ${closedAfter} ms`);
});

test('aborting mid-body destroys the connection; the next request opens a new one', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  const data = provider.add(0, randomBytes(32 * MiB));
  const ac = new AbortController();
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 }, { signal: ac.signal });
  let got = 0;
  const err = await t.throwsAsync(async () => {
    for await (const chunk of body) {
      got += (chunk as Buffer).length;
      if (got > MiB) ac.abort();
    }
  });
  t.is((err as D7yError).code, 'D7Y_ABORTED');
  t.true(got < data.length);
  await until('the server to drop the connection', () => server.openConnections === 0);
  t.is(client.idleConnections, 0);
  t.is(client.activeConnections, 0);
  t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 0 })).body)).equals(data));
  t.is(server.acceptedConnections, 2);
  const early = new AbortController();
  early.abort();
  t.is((await t.throwsAsync(client.downloadPiece(addr, { taskId: TASK, number: 0 }, { signal: early.signal })) as D7yError).code, 'D7Y_ABORTED');
});

test('destroying a body early closes its connection instead of pooling it', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  provider.add(0, randomBytes(16 * MiB));
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  body.destroy();
  await until('the server to drop the connection', () => server.openConnections === 0);
  t.is(client.idleConnections, 0);
  t.is(client.activeConnections, 0);
});

test('a silent server times the client out; a refused connection is D7Y_PEER_UNAVAILABLE', async (t) => {
  const { provider, server, client, addr } = await setup(t, {}, { readTimeoutMs: 300 });
  provider.gate = new Promise(() => undefined);
  const started = Date.now();
  const err = await t.throwsAsync(client.downloadPiece(addr, { taskId: TASK, number: 0 }));
  t.is((err as D7yError).code, 'D7Y_TIMEOUT');
  // The read time-out ends the wait (300 ms here) instead of a hang; the bound leaves room for a loaded machine.
  t.true(Date.now() - started < 8_000, `gave up after ${Date.now() - started} ms`);
  await until('the server to drop the connection', () => server.openConnections === 0);
  await server.stop();
  const refused = await t.throwsAsync(client.downloadPiece(addr, { taskId: TASK, number: 0 }));
  t.is((refused as D7yError).code, 'D7Y_PEER_UNAVAILABLE');
  t.regex(refused?.message ?? '', /cannot connect to peer 127\.0\.0\.1:\d+/);
});

test('a pooled connection the server closed while idle is replaced transparently', async (t) => {
  const { provider, server, client, addr } = await setup(t, { idleTimeoutMs: 150 });
  const data = provider.add(0, randomBytes(5000));
  t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 0 })).body)).equals(data));
  await until('the server to close the idle connection', () => server.openConnections === 0);
  t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 0 })).body)).equals(data));
  t.is(server.acceptedConnections, 2);
});

test('the server refuses connections beyond maxConnections and stops cleanly twice', async (t) => {
  const { provider, server, client, addr } = await setup(t, { maxConnections: 1 });
  provider.add(0, randomBytes(100));
  let open!: () => void;
  provider.gate = new Promise((r) => { open = r; });
  const first = client.downloadPiece(addr, { taskId: TASK, number: 0 });
  await until('the first connection', () => server.openConnections === 1);
  const second = await t.throwsAsync(client.downloadPiece(addr, { taskId: TASK, number: 0 }));
  t.is((second as D7yError).code, 'D7Y_PEER_UNAVAILABLE');
  open();
  t.is((await readAll((await first).body)).length, 100);
  await server.stop();
  await server.stop();
  t.is(server.openConnections, 0);
});

test('a body that fails mid-piece cuts the connection; the client sees D7Y_PEER_UNAVAILABLE, not a short piece', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  const data = provider.add(0, randomBytes(8 * MiB));
  provider.breakAfter = MiB;
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  const err = await t.throwsAsync(readAll(body));
  t.is((err as D7yError).code, 'D7Y_PEER_UNAVAILABLE');
  t.regex(err?.message ?? '', /connection closed after \d+ of 8388608 bytes/);
  await until('the server to drop the connection', () => server.openConnections === 0);
  provider.breakAfter = undefined;
  t.true((await readAll((await client.downloadPiece(addr, { taskId: TASK, number: 0 })).body)).equals(data));
});

test('openPiece feeds the body straight off the read buffer: a consumer that copies gets the piece intact, and the connection is reused', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  const data = provider.add(0, randomBytes(24 * MiB + 17));
  for (let round = 0; round < 2; round += 1) {
    const { meta, body } = await client.openPiece(addr, { taskId: TASK, number: 0 });
    const out = Buffer.alloc(meta.length);
    let at = 0;
    let chunks = 0;
    await body.pipe((chunk) => {
      chunk.copy(out, at);
      at += chunk.length;
      chunks += 1;
    });
    t.is(at, data.length);
    t.true(out.equals(data), `round ${round}: bytes differ`);
    t.true(chunks > 1);
  }
  t.is(server.acceptedConnections, 1);
  t.is(client.idleConnections, 1);
});

test('a consumer of openPiece that returns promises holds the server back, and bytes that came before pipe() are kept', async (t) => {
  const { provider, client, addr } = await setup(t);
  const data = provider.add(0, randomBytes(64 * MiB));
  const { body } = await client.openPiece(addr, { taskId: TASK, number: 0 });
  await new Promise((r) => setTimeout(r, 300));
  t.true(provider.pulled < 24 * MiB, `server pulled ${provider.pulled} bytes before anyone read`);
  const out = Buffer.alloc(data.length);
  let at = 0;
  let slowUntil = 8 * MiB;
  await body.pipe((chunk) => {
    chunk.copy(out, at);
    at += chunk.length;
    if (at < slowUntil) return new Promise((r) => setTimeout(r, 2));
    slowUntil = 0;
    return undefined;
  });
  t.true(out.equals(data));
});

test('a consumer of openPiece that throws or rejects, or a destroyed body, closes the connection and pipe() rejects', async (t) => {
  const { provider, server, client, addr } = await setup(t);
  provider.add(0, randomBytes(16 * MiB));
  const first = await client.openPiece(addr, { taskId: TASK, number: 0 });
  let seen = 0;
  const err = await t.throwsAsync(first.body.pipe((chunk) => {
    seen += chunk.length;
    if (seen > MiB) throw new Error('disk on fire');
  }));
  t.is(err?.message, 'disk on fire');
  const second = await client.openPiece(addr, { taskId: TASK, number: 0 });
  const err2 = await t.throwsAsync(second.body.pipe(() => Promise.reject(new Error('no room'))));
  t.is(err2?.message, 'no room');
  const third = await client.openPiece(addr, { taskId: TASK, number: 0 });
  const piping = third.body.pipe(() => undefined);
  third.body.destroy();
  const err3 = await t.throwsAsync(piping);
  t.is((err3 as D7yError).code, 'D7Y_ABORTED');
  t.regex(err3?.message ?? '', /body destroyed after \d+ of 16777216 bytes/);
  await until('the server to drop all three connections', () => server.openConnections === 0);
  t.is(client.idleConnections, 0);
  t.is(client.activeConnections, 0);
});

test('the server gives every chunk of a piece back to the provider once the socket has it', async (t) => {
  const { provider, client, addr } = await setup(t);
  provider.lending = true;
  const data = provider.add(0, randomBytes(8 * MiB + 3));
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  t.true((await readAll(body)).equals(data));
  await until('every chunk to come back', () => provider.recycled === data.length);
  t.is(provider.recycled, data.length);
});

