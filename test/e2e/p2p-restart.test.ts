import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import test, { type ExecutionContext } from 'ava';
import { taskId } from '../../core/index.js';
import { SchedulerClient } from '../../core/protocol/rpc/scheduler-client.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, testBytes, type DaemonProcess } from './p2p-cluster.js';

const MIB = 1024 * 1024;
/**
 * A small file from a parent the scheduler knows takes well under this; without a parent the
 * child waits out its scheduling rounds (5.9–10.9 s) and then reads the origin.
 */
const NO_STALL_MS = 3_000;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Downloads `url` on a fresh peer and checks it came from the swarm, at once, with no origin byte. */
async function freshPeerGets(t: ExecutionContext, cluster: P2PCluster, origin: OriginServer, scheduler: DaemonProcess,
  url: string, file: Buffer, name: string): Promise<void> {
  const child = await cluster.peer(name, { schedulers: [scheduler.address] });
  const api = cluster.client(child);
  const bytesBefore = origin.served.bytes;
  const out = join(cluster.dir, `${name}.out`);
  const t0 = performance.now();
  await api.download({ url, output: out });
  const tookMs = performance.now() - t0;
  t.log(`${name}: download took ${Math.round(tookMs)} ms`);
  t.is(sha256(await readFile(out)), sha256(file));
  t.is(origin.served.bytes, bytesBefore, 'the second peer read the origin');
  t.true(tookMs < NO_STALL_MS, `the second peer's download took ${Math.round(tookMs)} ms`);
  const stat = await api.stat(taskId({ url })) as { trafficTypes: Record<string, number> };
  t.deepEqual(Object.keys(stat.trafficTypes), ['remote-peer']);
}

/** A seed holding `file` (fetched from the origin through its own socket). */
async function seedHolding(cluster: P2PCluster, scheduler: DaemonProcess, url: string): Promise<DaemonProcess> {
  const seed = await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const r = await runCli(['get', url, '-O', join(cluster.dir, 'seed.out'), '--socket', seed.socket]);
  if (r.code !== 0) throw new Error(`the seed could not fetch ${url}: ${r.stderr}`);
  return seed;
}

test.serial('a restarted seed peer is a parent again at once (scheduler kept running)', async (t) => {
  const file = testBytes(6 * MIB + 7, 21);
  const origin = await startOriginServer(t, { files: { '/s.bin': file } });
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const url = origin.urlOf('/s.bin');
  const seed = await seedHolding(cluster, scheduler, url);

  await cluster.restart(seed);
  await freshPeerGets(t, cluster, origin, scheduler, url, file, 'after-seed-restart');
});

test.serial('after the whole node restarts (scheduler too), a peer holding a file is a parent at once', async (t) => {
  const file = testBytes(6 * MIB + 11, 22);
  const origin = await startOriginServer(t, { files: { '/n.bin': file } });
  const cluster = await P2PCluster.create(t);
  let scheduler = await cluster.scheduler();
  const url = origin.urlOf('/n.bin');
  const seed = await seedHolding(cluster, scheduler, url);
  const holder = await cluster.peer('holder', { schedulers: [scheduler.address] });
  const first = await runCli(['get', url, '-O', join(cluster.dir, 'holder.out'), '--socket', holder.socket]);
  t.is(first.code, 0, first.stderr);

  // The whole node goes down; it comes back without its seed, so only the normal peer can serve.
  await cluster.stop(seed);
  await cluster.stop(holder);
  scheduler = await cluster.restart(scheduler);
  await cluster.restart(holder);
  await freshPeerGets(t, cluster, origin, scheduler, url, file, 'after-node-restart');
});

test.serial('a scheduler restarted under running peers learns again what they hold', async (t) => {
  const file = testBytes(6 * MIB + 13, 23);
  const origin = await startOriginServer(t, { files: { '/r.bin': file } });
  const cluster = await P2PCluster.create(t);
  let scheduler = await cluster.scheduler();
  const url = origin.urlOf('/r.bin');
  await seedHolding(cluster, scheduler, url);

  scheduler = await cluster.restart(scheduler);
  const client = new SchedulerClient({ addresses: [scheduler.address], auth: { auth: cluster.auth(true) } });
  t.teardown(() => client.close());
  const id = taskId({ url });
  const deadline = Date.now() + 15_000;
  let known = false;
  while (!known && Date.now() < deadline) {
    known = await client.statTask(id).then((task) => task.hasAvailablePeer, () => false);
    if (!known) await new Promise((r) => setTimeout(r, 200));
  }
  t.true(known, 'the restarted scheduler never learnt that the seed holds the file');
  await freshPeerGets(t, cluster, origin, scheduler, url, file, 'after-scheduler-restart');
});
