import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { pieceDigest } from '../../core/task/piece-digest.js';
import { TaskState } from '../../core/roles/peer/tasks/task-state.js';
import type { TaskCatalog } from '../../core/roles/peer/tasks/task-catalog.js';
import { TokenBucket } from '../../core/roles/peer/token-bucket.js';
import { UploadPieceProvider } from '../../core/roles/peer/upload/upload-piece-provider.js';
import { UploadStats } from '../../core/roles/peer/upload/upload-stats.js';
import { DiskStorage } from '../../storage/disk/disk-storage.js';
import { tmpDir } from '../support/env.js';

const LEN = 1024 * 1024;
const HALF = LEN / 2;
const TASK = 'a'.repeat(64);

async function relayPeer(t: ExecutionContext, childrenPerPiece = 0): Promise<{ disk: DiskStorage; state: TaskState; provider: UploadPieceProvider }> {
  const disk = new DiskStorage({ dir: await tmpDir(t, 'd7y-relay-') });
  await disk.start();
  t.teardown(() => disk.stop());
  const state = new TaskState(TASK);
  state.record = await disk.putTask({ taskId: TASK, url: 'https://origin.example/f', pieceLength: LEN, contentLength: LEN });
  const tasks = { find: async (id: string) => (id === TASK ? state : undefined) } as unknown as TaskCatalog;
  const provider = new UploadPieceProvider(tasks, disk, new TokenBucket(0), new UploadStats(), () => 'relay-peer', undefined, undefined, childrenPerPiece);
  return { disk, state, provider };
}

/** Reads from `body` until `want` bytes arrived (bounded), without ending it. */
async function readAtLeast(body: Readable, want: number, got: Buffer[]): Promise<void> {
  const have = (): number => got.reduce((n, b) => n + b.length, 0);
  const deadline = Date.now() + 10_000;
  while (have() < want) {
    if (Date.now() > deadline) throw new Error(`only ${have()} of ${want} bytes arrived`);
    const chunk = body.read() as Buffer | null;
    if (chunk) got.push(chunk);
    else await new Promise((r) => setTimeout(r, 5));
  }
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a peer passes on the first half of a piece while the second half is still on its way; the child gets it byte-exact', async (t) => {
  const { disk, state, provider } = await relayPeer(t);
  const data = randomBytes(LEN);
  const digest = pieceDigest(data);
  const upstream = new PassThrough();
  const receiving = state.startReceiving({ number: 0, offset: 0, length: LEN, digest });
  let announced = 0;
  state.on('receiving', () => { announced += 1; });
  let whole = false;
  const writing = disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, upstream, digest, { onWritten: (b) => receiving.advance(b) })
    .then((rec) => { whole = true; return rec; });
  upstream.write(data.subarray(0, HALF));
  await until('the first half to be written', () => receiving.written >= HALF);
  t.is(announced, 1, 'the piece is announced once, on its first bytes');

  const { meta, body } = await provider.getPiece({ taskId: TASK, number: 0 });
  t.is(meta.length, LEN);
  t.is(meta.digest, digest, "the child is told the parent's digest, to check the piece against");
  const got: Buffer[] = [];
  body.pause();
  await readAtLeast(body, HALF, got);
  t.false(whole, 'the child had the first half before this peer had the whole piece');
  t.deepEqual(Buffer.concat(got).subarray(0, HALF), data.subarray(0, HALF));

  upstream.end(data.subarray(HALF));
  state.addPiece({ ...(await writing), createdAt: Date.now() });
  body.resume();
  for await (const chunk of body) got.push(chunk as Buffer);
  t.true(Buffer.concat(got).equals(data), 'the whole piece arrives, byte-exact');
  t.is(state.receiving.size, 0);
});

test('when the piece fails to arrive here, the child passing it on fails too instead of waiting', async (t) => {
  const { disk, state, provider } = await relayPeer(t);
  const data = randomBytes(LEN);
  const upstream = new PassThrough();
  const receiving = state.startReceiving({ number: 0, offset: 0, length: LEN, digest: pieceDigest(data) });
  const writing = disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, upstream, pieceDigest(data), { onWritten: (b) => receiving.advance(b) });
  upstream.write(data.subarray(0, HALF));
  await until('the first half to be written', () => receiving.written >= HALF);
  const { body } = await provider.getPiece({ taskId: TASK, number: 0 });
  const reading = (async () => { for await (const chunk of body) void chunk; })();
  upstream.destroy(new Error('parent went away'));
  const err = await writing.catch((e: unknown) => e);
  state.endReceiving(receiving, err);
  await t.throwsAsync(reading, { message: /parent went away/ });
  t.false(await disk.hasPiece(TASK, 0), 'nothing is recorded');
  await t.throwsAsync(provider.getPiece({ taskId: TASK, number: 0 }), { code: 'D7Y_PIECE_NOT_FOUND' }, 'the piece is no longer offered');
});

test('a piece is sent to at most childrenPerPiece children at once; the next is told to ask another holder', async (t) => {
  const { disk, state, provider } = await relayPeer(t, 2);
  const data = randomBytes(LEN);
  state.addPiece({ ...(await disk.writePiece(TASK, { number: 0, offset: 0, length: LEN }, data)), createdAt: Date.now() });
  const first = await provider.getPiece({ taskId: TASK, number: 0 });
  const second = await provider.getPiece({ taskId: TASK, number: 0 });
  const err = await t.throwsAsync(provider.getPiece({ taskId: TASK, number: 0 }), { code: 'D7Y_RATE_LIMITED' });
  t.regex(err?.message ?? '', /^busy: piece 0 of task a{64} is being sent to 2 peers already; ask another holder$/);
  const ranged = await provider.getPiece({ taskId: TASK, number: 0 }, { start: 0, length: 16 });
  t.is(ranged.meta.length, 16, 'a range read (the HTTP endpoint) is not limited');
  ranged.body.destroy();

  const got: Buffer[] = [];
  for await (const chunk of first.body) got.push(chunk as Buffer);
  t.true(Buffer.concat(got).equals(data), 'the children being served get the whole piece');
  const third = await provider.getPiece({ taskId: TASK, number: 0 });
  t.is(third.meta.length, LEN, 'once a send finished, the next child is served');
  second.body.destroy();
  third.body.destroy();
  await new Promise((r) => setImmediate(r));
  const fourth = await provider.getPiece({ taskId: TASK, number: 0 });
  t.is(fourth.meta.length, LEN, 'an abandoned send frees its place too');
  fourth.body.destroy();
});
