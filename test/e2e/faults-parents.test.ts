import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { D7yError, taskId } from '../../core/index.js';
import { BUSY_PREFIX } from '../../core/protocol/vortex/vortex-error-codes.js';
import { JsonLinesOutcomeStore } from '../../core/roles/scheduler/experiment/index.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { startFakeParent, type FakeParent } from './faults-fake-parent.js';
import { MIB, sha256, waitForPieces, type TaskStat } from './faults-support.js';
import { P2PCluster, TEST_PIECE_FLOOR, testBytes, type DaemonProcess } from './p2p-cluster.js';

/** The origin serving `file` at `path`, and an empty cluster. */
async function originAndCluster(t: ExecutionContext, path: string, file: Buffer): Promise<{ url: string; cluster: P2PCluster }> {
  const origin = await startOriginServer(t, { files: { [path]: file } });
  return { url: origin.urlOf(path), cluster: await P2PCluster.create(t) };
}

const getArgs = (url: string, out: string, socket: string): string[] => ['get', url, '-O', out, '--socket', socket, '--no-progress'];

const STALL_MS = 20_000;

test.serial('a parent killed mid-download: the child finishes with the right bytes, from the origin at once, not after the stall time-out', async (t) => {
  t.timeout(180_000);
  const file = testBytes(24 * MIB, 21);
  const { url, cluster } = await originAndCluster(t, '/f/killed.bin', file);
  const scheduler = await cluster.scheduler();
  const schedulers = [scheduler.address];
  const [seed, child] = await Promise.all([
    cluster.peer('seed', { seed: true, schedulers, peer: { upload: { port: 0, rateLimit: 3 * MIB } } }),
    cluster.peer('child', { schedulers, peer: { download: { pieceLengthMin: TEST_PIECE_FLOOR, directMaxBytes: TEST_PIECE_FLOOR, stallTimeout: `${STALL_MS}ms` } } }),
  ]);
  const out = join(cluster.dir, 'child.out');
  const get = runCli(getArgs(url, out, child.socket), { timeoutMs: 150_000 });
  await waitForPieces(cluster.client(child), taskId({ url }), 2);
  seed.child.kill('SIGKILL');
  const killed = Date.now();

  const r = await get;
  t.is(r.code, 0, r.stderr);
  // Its piece sync with the seed broke and no other parent holds a piece it lacks: it asks the scheduler again at once.
  t.true(Date.now() - killed < STALL_MS / 2, `the get ended ${Date.now() - killed} ms after the seed was killed; the stall time-out is ${STALL_MS} ms`);
  t.is(sha256(await readFile(out)), sha256(file));
  const stat = await cluster.client(child).stat(taskId({ url })) as unknown as TaskStat;
  t.true((stat.trafficTypes['remote-peer'] ?? 0) > 0, `some pieces came from the seed before it died: ${JSON.stringify(stat.trafficTypes)}`);
  t.true((stat.trafficTypes['back-to-source'] ?? 0) > 0, 'the rest came from the origin');
});

test.serial('a parent serving corrupted pieces is blocked and the pieces are fetched elsewhere', async (t) => {
  t.timeout(180_000);
  const file = testBytes(8 * MIB, 22);
  const { url, cluster } = await originAndCluster(t, '/f/corrupt.bin', file);
  await writeFile(cluster.pluginsFile, JSON.stringify({
    plugins: [{ name: 'http' }, { name: 'disk' }, { name: 'default' }, { name: 'legacy' }],
    scheduler: { evaluator: 'default', experiment: { id: 'faults', bucketBy: 'task', variants: [
      { name: 'a', evaluator: 'default', weight: 50 }, { name: 'b', evaluator: 'legacy', weight: 50 },
    ] } },
  }));
  const scheduler = await cluster.scheduler();
  const bad = await startFakeParent(t, {
    name: 'corrupting', scheduler: scheduler.address, url, file, pieceLength: MIB,
    serve: (_k, bytes) => {
      bytes[bytes.length >> 1] ^= 0xff;
      return bytes;
    },
  });
  const child = await cluster.peer('child', { schedulers: [scheduler.address] });
  const out = join(cluster.dir, 'child.out');
  const r = await runCli(getArgs(url, out, child.socket), { timeoutMs: 150_000 });
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file), 'no corrupted byte reached the output');
  t.true(bad.requests >= 1, 'the child was sent to the corrupting parent');
  const stat = await cluster.client(child).stat(taskId({ url })) as unknown as TaskStat;
  t.false(stat.parentIds.includes(bad.peerId), 'no piece was accepted from the corrupting parent');
  t.is(stat.heldPieces, 8);

  const store = new JsonLinesOutcomeStore(scheduler.dataDir);
  let outcomes = await store.list('faults').catch(() => []);
  for (let i = 0; i < 50 && outcomes.length === 0; i++) {
    await sleep(100);
    outcomes = await store.list('faults').catch(() => []);
  }
  const mine = outcomes.find((o) => o.hostId !== bad.hostId);
  t.like(mine, { succeeded: true, contentLength: file.length, measuredBy: 'peer', backToSource: true, sourceBytes: file.length },
    'the experiment outcome carries what the peer measured');
  t.true((mine?.pieceFailures ?? 0) >= 1, 'the corrupted pieces count as piece failures');
});

test.serial('a parent that turns slow is detected as bad and not given to the next child', async (t) => {
  t.timeout(180_000);
  const file = testBytes(8 * MIB, 23);
  const { url, cluster } = await originAndCluster(t, '/f/slow.bin', file);
  const scheduler = await cluster.scheduler();
  let firstAsked = 0;
  let earlierMs = 0;
  let first: DaemonProcess | undefined;
  const slow = await startFakeParent(t, {
    name: 'slowing', scheduler: scheduler.address, url, file, pieceLength: MIB,
    serve: async (k, bytes) => {
      if (k === 1) firstAsked = Date.now();
      if (k === 8) {
        // The scheduler calls a parent bad when its last piece cost more than 20 x the mean of the
        // earlier ones. None of the seven earlier ones cost more than the time from the first request
        // until the child held all seven, so waiting 25 x that (8 s at least, below the 30 s read
        // time-out) makes this piece a bad one however loaded the machine is.
        await waitForPieces(cluster.client(first!), taskId({ url }), 7);
        earlierMs = Date.now() - firstAsked;
        await sleep(Math.min(25_000, Math.max(8_000, 25 * earlierMs)));
      }
      return bytes;
    },
  });
  const schedulers = [scheduler.address];
  const peers = await Promise.all([cluster.peer('first', { schedulers }), cluster.peer('second', { schedulers })]);
  first = peers[0];
  const second = peers[1];
  const r1 = await runCli(getArgs(url, join(cluster.dir, 'first.out'), first.socket), { timeoutMs: 150_000 });
  t.is(r1.code, 0, r1.stderr);
  const s1 = await cluster.client(first).stat(taskId({ url })) as unknown as TaskStat;
  t.deepEqual(s1.parentIds, [slow.peerId], 'the first child was served by the slowing parent alone');
  const served = slow.requests;
  t.log(`the first seven pieces took ${earlierMs} ms`);

  const out = join(cluster.dir, 'second.out');
  const r2 = await runCli(getArgs(url, out, second.socket), { timeoutMs: 150_000 });
  t.is(r2.code, 0, r2.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.is(slow.requests, served, 'the bad parent got no request from the second child');
  const s2 = await cluster.client(second).stat(taskId({ url })) as unknown as TaskStat;
  t.false(s2.parentIds.includes(slow.peerId));
  t.is(s2.trafficTypes['back-to-source'] ?? 0, 0, 'the second child was served by the first one, not the origin');
});

test.serial('a parent that drops the connection in the middle of every piece: the child daemon survives and finishes', async (t) => {
  t.timeout(180_000);
  const file = testBytes(8 * MIB, 24);
  const { url, cluster } = await originAndCluster(t, '/f/cut.bin', file);
  const scheduler = await cluster.scheduler();
  const cutting = await startFakeParent(t, {
    name: 'cutting', scheduler: scheduler.address, url, file, pieceLength: MIB,
    serve: (_k, bytes) => bytes.subarray(0, bytes.length >> 1),
  });
  const child = await cluster.peer('child', { schedulers: [scheduler.address] });
  const out = join(cluster.dir, 'child.out');
  const r = await runCli(getArgs(url, out, child.socket), { timeoutMs: 150_000 });
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.true(cutting.requests >= 1, 'the child was sent to the cutting parent');
  const stat = await cluster.client(child).stat(taskId({ url })) as unknown as TaskStat;
  t.false(stat.parentIds.includes(cutting.peerId), 'no half piece was accepted');
  const again = await runCli(['get', url, '-O', join(cluster.dir, 'again.out'), '--socket', child.socket, '--no-progress'], { timeoutMs: 30_000 });
  t.is(again.code, 0, `the daemon still answers after the cut connections: ${again.stderr}`);
});

test.serial('a parent busy with a piece is asked again a little later, not dropped: the child gets every piece from it', async (t) => {
  t.timeout(180_000);
  const file = testBytes(4 * MIB, 25);
  const { url, cluster } = await originAndCluster(t, '/f/busy.bin', file);
  const scheduler = await cluster.scheduler();
  let refused = 0;
  const busy = await startFakeParent(t, {
    name: 'busy', scheduler: scheduler.address, url, file, pieceLength: MIB,
    serve: (k, bytes) => {
      // More refusals than the failures after which a parent is dropped (3).
      if (k <= 6) {
        refused += 1;
        throw new D7yError('D7Y_RATE_LIMITED', `${BUSY_PREFIX}piece being sent to 2 peers already; ask another holder`);
      }
      return bytes;
    },
  });
  const child = await cluster.peer('child', { schedulers: [scheduler.address] });
  const out = join(cluster.dir, 'child.out');
  const r = await runCli(getArgs(url, out, child.socket), { timeoutMs: 150_000 });
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.is(refused, 6, 'the parent said it was busy six times');
  const stat = await cluster.client(child).stat(taskId({ url })) as unknown as TaskStat;
  t.deepEqual(stat.parentIds, [busy.peerId], 'every piece came from the busy parent');
  t.is(stat.trafficTypes['back-to-source'] ?? 0, 0, 'the child did not go to the origin');
});

/**
 * The set-up of the endgame tests: the fake parent `start` makes, and a holder that serves every
 * piece at once but lists its pieces only 500 ms after a child asks, so the child's download asks
 * the fake for every piece first and the holder is idle when the endgame looks for one; `stop`
 * aborts the fake's waits at teardown.
 */
async function withIdleHolder(t: ExecutionContext, path: string, seed: number,
  start: (o: { url: string; file: Buffer; scheduler: string; stop: AbortSignal }) => Promise<FakeParent>,
): Promise<{ fake: FakeParent; holder: FakeParent; file: Buffer; out: string; took: number; stat: TaskStat; code: number | null; stderr: string }> {
  const file = testBytes(8 * MIB, seed);
  const { url, cluster } = await originAndCluster(t, path, file);
  const scheduler = await cluster.scheduler();
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const fake = await start({ url, file, scheduler: scheduler.address, stop: stop.signal });
  const holder = await startFakeParent(t, {
    name: 'holder', scheduler: scheduler.address, url, file, pieceLength: MIB, announceDelayMs: 500, serve: (_k, bytes) => bytes,
  });
  const child = await cluster.peer('child', { schedulers: [scheduler.address] });
  const out = join(cluster.dir, 'child.out');
  const t0 = Date.now();
  const r = await runCli(getArgs(url, out, child.socket), { timeoutMs: 150_000 });
  const took = Date.now() - t0;
  const stat = await cluster.client(child).stat(taskId({ url })) as unknown as TaskStat;
  return { fake, holder, file, out, took, stat, code: r.code, stderr: r.stderr };
}

test.serial('a parent that stalls while the other holder is idle: the endgame moves its pieces, and the get does not wait for it', async (t) => {
  t.timeout(180_000);
  const STALL_MS = 20_000;
  const r = await withIdleHolder(t, '/f/stall.bin', 26, ({ url, file, scheduler, stop }) => startFakeParent(t, {
    name: 'stalling', scheduler, url, file, pieceLength: MIB, maxTxBps: 100 * 1024 * MIB,
    serve: async (_k, bytes) => {
      await sleep(STALL_MS, undefined, { signal: stop });
      return bytes;
    },
  }));
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(r.out)), sha256(r.file));
  t.is(r.fake.requests, 8, 'the child asked the stalling parent for every piece (it listed them first)');
  t.true(r.took < STALL_MS - 5_000, `the get took ${r.took} ms; the stalling parent answers after ${STALL_MS} ms`);
  t.deepEqual(r.stat.parentIds, [r.holder.peerId], 'every piece came from the idle holder, none from the stalling parent');
  t.is(r.holder.requests, 8, 'the holder was asked once for each piece');
  t.is(r.stat.trafficTypes['back-to-source'] ?? 0, 0, 'the pieces came from the idle holder, not the origin');
});

test.serial('a parent that sends half of each piece and then goes slow: the endgame moves the pieces to an idle holder', async (t) => {
  t.timeout(180_000);
  const REST_AFTER_MS = 20_000;
  const r = await withIdleHolder(t, '/f/trickle.bin', 27, ({ url, file, scheduler, stop }) => startFakeParent(t, {
    name: 'trickling', scheduler, url, file, pieceLength: MIB, maxTxBps: 100 * 1024 * MIB,
    serve: (k, bytes) => {
      // The first piece whole, so the download learns what a piece takes; then half at once and the rest much later.
      if (k === 1) return bytes;
      return Readable.from((async function* () {
        yield bytes.subarray(0, bytes.length >> 1);
        await sleep(REST_AFTER_MS, undefined, { signal: stop });
        yield bytes.subarray(bytes.length >> 1);
      })());
    },
  }));
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(r.out)), sha256(r.file));
  t.is(r.fake.requests, 8, 'the child asked the trickling parent for every piece (it listed them first)');
  t.true(r.took < REST_AFTER_MS - 5_000, `the get took ${r.took} ms; the trickling parent sends the rest of a piece after ${REST_AFTER_MS} ms`);
  t.deepEqual(r.stat.parentIds, [r.fake.peerId, r.holder.peerId].sort(), 'the first piece came from the trickling parent, the rest from the holder');
  t.is(r.holder.requests, 7, 'the holder was asked for the seven pieces the trickling parent was slow with');
  t.is(r.stat.trafficTypes['back-to-source'] ?? 0, 0, 'the pieces came from the peers, not the origin');
});

test.serial('a parent whose bytes stop mid-piece while only a seed holds the pieces too: they come from the seed after the stall time-out, not after the read time-out', async (t) => {
  t.timeout(180_000);
  const SILENT_MS = 25_000;
  const file = testBytes(8 * MIB, 28);
  const { url, cluster } = await originAndCluster(t, '/f/silent.bin', file);
  const scheduler = await cluster.scheduler();
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  // The seed reads the file from the origin first; then the only normal parent sends half of each piece and goes silent.
  const seed = await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const first = await runCli(getArgs(url, join(cluster.dir, 'seed.out'), seed.socket), { timeoutMs: 60_000 });
  t.is(first.code, 0, first.stderr);
  const fake = await startFakeParent(t, {
    name: 'silent', scheduler: scheduler.address, url, file, pieceLength: MIB, maxTxBps: 100 * 1024 * MIB,
    serve: (_k, bytes) => Readable.from((async function* () {
      yield bytes.subarray(0, bytes.length >> 1);
      await sleep(SILENT_MS, undefined, { signal: stop.signal });
      yield bytes.subarray(bytes.length >> 1);
    })()),
  });
  const child = await cluster.peer('child', { schedulers: [scheduler.address], peer: { download: { pieceLengthMin: TEST_PIECE_FLOOR, directMaxBytes: TEST_PIECE_FLOOR, stallTimeout: '2s' } } });
  const out = join(cluster.dir, 'child.out');
  const t0 = Date.now();
  const r = await runCli(getArgs(url, out, child.socket), { timeoutMs: 150_000 });
  const took = Date.now() - t0;
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.true(fake.requests > 0, 'the child asked the silent parent first (a seed is asked only for what no normal parent holds)');
  t.true(took < SILENT_MS - 10_000, `the get took ${took} ms; the silent parent sends the rest of a piece after ${SILENT_MS} ms`);
  const stat = await cluster.client(child).stat(taskId({ url })) as unknown as TaskStat;
  t.false(stat.parentIds.includes(fake.peerId), 'no piece came from the silent parent');
  t.is(stat.trafficTypes['back-to-source'] ?? 0, 0, 'the pieces came from the seed, not the origin');
});
