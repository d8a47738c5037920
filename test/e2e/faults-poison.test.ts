import { readdir, readFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { taskId } from '../../core/index.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { startFakeParent } from './faults-fake-parent.js';
import { MIB, sha256 } from './faults-support.js';
import { P2PCluster, testBytes, type DaemonProcess } from './p2p-cluster.js';

const getArgs = (url: string, out: string, socket: string): string[] => ['get', url, '-O', out, '--socket', socket, '--no-progress'];

/** Everything the process writes (its logs), as it comes. */
function output(d: DaemonProcess): () => string {
  let seen = '';
  const add = (b: Buffer): void => { seen += b.toString(); };
  d.child.stdout?.on('data', add);
  d.child.stderr?.on('data', add);
  return () => seen;
}

/** Piece `n`'s bytes as a poisoner sends them: every byte flipped from piece 4 on (21 of 25 pieces). */
function poisoned(n: number, bytes: Buffer): Buffer {
  if (n < 4) return bytes;
  for (let i = 0; i < bytes.length; i += 1) bytes[i] ^= 0x5a;
  return bytes;
}

/**
 * An origin, a scheduler, a seed peer and a poisoner that registers with the scheduler as a peer
 * that read the origin and ranks high, then a child's `d7y get`: returns what a user and an
 * operator would look at.
 */
async function poisonedSwarm(t: ExecutionContext, path: string, seed: number, lies: boolean) {
  const file = testBytes(25 * MIB, seed);
  const origin = await startOriginServer(t, { files: { [path]: file } });
  const url = origin.urlOf(path);
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const logs = output(scheduler);
  const schedulers = [scheduler.address];
  await cluster.peer('seed', { seed: true, schedulers });
  const bad = await startFakeParent(t, {
    name: lies ? 'lying' : 'poisoning', scheduler: scheduler.address, url, file, pieceLength: MIB, maxTxBps: 100 * 1024 * MIB,
    serve: (_k, bytes, n) => poisoned(n, bytes),
    claim: lies ? poisoned : undefined,
  });
  const child = await cluster.peer('child', { schedulers });
  const out = join(cluster.dir, 'child.out');
  const r = await runCli(getArgs(url, out, child.socket), { timeoutMs: 150_000 });
  return { file, url, cluster, schedulers, logs, bad, out, r };
}

test.serial('a peer serving wrong bytes for most pieces: the get ends with the right bytes, the poisoner is blocked and never asked again', async (t) => {
  t.timeout(240_000);
  const { file, url, cluster, schedulers, logs, bad, out, r } = await poisonedSwarm(t, '/f/poisoned.bin', 31, false);
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file), 'no poisoned byte reached the output');
  t.true(bad.requests >= 1, 'the child was sent to the poisoner (it ranks high)');
  t.regex(logs(), new RegExp(`parent blocked for the task[^\\n]*${bad.hostId}|${bad.hostId}[^\\n]*parent blocked for the task`), 'the scheduler says it blocked the poisoner');

  const served = { requests: bad.requests, syncs: bad.syncs };
  const second = await cluster.peer('second', { schedulers });
  const out2 = join(cluster.dir, 'second.out');
  const r2 = await runCli(getArgs(url, out2, second.socket), { timeoutMs: 150_000 });
  t.is(r2.code, 0, r2.stderr);
  t.is(sha256(await readFile(out2)), sha256(file));
  t.deepEqual({ requests: bad.requests, syncs: bad.syncs }, served, 'the second download never asked the poisoner');
});

test.serial('a poisoner that announces the digests of its wrong bytes (to the child and to the scheduler) is still caught', async (t) => {
  t.timeout(240_000);
  const { file, logs, bad, out, r } = await poisonedSwarm(t, '/f/lying.bin', 32, true);
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file), 'no poisoned byte reached the output');
  t.true(bad.requests >= 1, 'the child was sent to the lying poisoner');
  t.regex(logs(), /parent blocked for the task/);
});

/** The content file of a task under a peer's data dir. */
async function contentFile(dir: string, id: string): Promise<string> {
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.startsWith(id) && !e.name.endsWith('.log')) return join(e.parentPath, e.name);
  }
  throw new Error(`no content file of task ${id} under ${dir}`);
}

test.serial('a piece corrupted on the peer\'s disk: --digest fails saying the peer\'s copy was corrupt, the task is evicted, the retry succeeds', async (t) => {
  t.timeout(180_000);
  const file = testBytes(6 * MIB, 33);
  const origin = await startOriginServer(t, { files: { '/f/disk.bin': file } });
  const url = origin.urlOf('/f/disk.bin');
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const peer = await cluster.peer('peer', { schedulers: [scheduler.address] });
  const digest = `sha256:${sha256(file)}`;
  // A plain copy: no link ties the output to the peer's content file, so nothing notices the edit before --digest.
  const first = await runCli([...getArgs(url, join(cluster.dir, 'first.out'), peer.socket), '--copy', '--digest', digest], { timeoutMs: 120_000 });
  t.is(first.code, 0, first.stderr);

  const path = await contentFile(peer.dataDir, taskId({ url }));
  const fh = await open(path, 'r+');
  await fh.write(Buffer.from('not the origin bytes'), 0, 20, 2 * MIB + 5); // in piece 2 (1 MiB pieces)
  await fh.close();

  const out = join(cluster.dir, 'second.out');
  const bad = await runCli([...getArgs(url, out, peer.socket), '--digest', digest], { timeoutMs: 120_000 });
  t.not(bad.code, 0);
  t.regex(bad.stderr, /copy of \S+ was corrupt: 1 piece\(s\) \(2\) changed on disk/);
  t.regex(bad.stderr, /run the download again/);
  t.notRegex(bad.stderr, /origin serves/, 'the origin is not blamed');

  const retry = await runCli([...getArgs(url, out, peer.socket), '--digest', digest], { timeoutMs: 120_000 });
  t.is(retry.code, 0, retry.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
});
