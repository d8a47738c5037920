import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CacheTaskView } from '../../core/protocol/local-api/cache-api.js';
import { LocalCacheClient } from '../../core/protocol/local-api/local-cache-client.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, testBytes, type DaemonProcess } from './p2p-cluster.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const MIB = 1024 * 1024;
/** The restore bound the scheduler config below gives: holderTtl 3 s + checks every 500 ms + the copy. */
const RESTORE_BOUND_MS = 30_000;

const SCHEDULER = { persistentCache: { checkInterval: 500, holderTtl: 3_000 } };
const PEER = { persistentCache: { announceInterval: '500ms', minTtl: '1s' } };

async function cluster(t: ExecutionContext) {
  const c = await P2PCluster.create(t);
  const scheduler = await c.scheduler('scheduler', SCHEDULER);
  const peers: DaemonProcess[] = [];
  for (const name of ['a', 'b', 'c', 'd']) peers.push(await c.peer(name, { schedulers: [scheduler.address], peer: PEER }));
  const client = (p: DaemonProcess): LocalCacheClient => {
    const cl = new LocalCacheClient(p.socket);
    t.teardown(() => cl.close());
    return cl;
  };
  return { c, scheduler, peers, client };
}

/** Polls until `check` holds, at most `ms`; resolves to the time it took. */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await delay(200);
  }
}

const holdersOf = (v: CacheTaskView): string[] => (v.holders ?? []).filter((h) => h.persistent).map((h) => h.hostname).sort();

test.serial('64 MiB imported on A with --replicas 3: three holders; A stops, D exports the same bytes from the others; the count is 3 again within the bound; a restart of every daemon keeps every copy', async (t) => {
  const { c, scheduler, peers, client } = await cluster(t);
  const [a, b, , d] = peers as [DaemonProcess, DaemonProcess, DaemonProcess, DaemonProcess];
  const bytes = testBytes(64 * MIB, 11);
  const file = join(c.dir, 'checkpoint.bin');
  await writeFile(file, bytes);

  const imported = await runCli(['cache', 'import', file, '--replicas', '3', '--ttl', '1h', '--socket', a.socket], { timeoutMs: 120_000 });
  t.is(imported.code, 0, imported.stderr);
  const id = imported.stdout.trim();
  t.regex(id, /^[0-9a-f]{64}$/);

  let view!: CacheTaskView;
  await until('three replicas', RESTORE_BOUND_MS, async () => {
    view = await client(b).stat(id);
    return view.currentReplicas === 3;
  });
  t.is(holdersOf(view).length, 3);
  t.true(holdersOf(view).includes('a'), 'the importing peer holds a replica');

  const stoppedAt = Date.now();
  await c.stop(a);
  const out = join(c.dir, 'on-d.bin');
  const exported = await runCli(['cache', 'export', id, '-O', out, '--socket', d.socket], { timeoutMs: 120_000 });
  t.is(exported.code, 0, exported.stderr);
  t.is(sha256(await readFile(out)), sha256(bytes), 'D exported the bytes A imported, with A gone and no origin anywhere');

  await until('the replica count restored', RESTORE_BOUND_MS, async () => {
    view = await client(b).stat(id);
    return view.currentReplicas === 3 && !holdersOf(view).includes('a');
  });
  const took = Date.now() - stoppedAt;
  t.true(took < RESTORE_BOUND_MS, `restored in ${took} ms`);
  t.deepEqual(holdersOf(view), ['b', 'c', 'd']);
  t.log(`replica count back to 3 in ${took} ms after A stopped (export on D included)`);

  // Every daemon restarts, the scheduler too: every copy is kept and the scheduler learns them again.
  const restarted: DaemonProcess[] = [];
  await c.restart(scheduler);
  for (const p of peers.slice(1)) restarted.push(await c.restart(p));
  await until('the holders announced again', RESTORE_BOUND_MS, async () => {
    view = await client(restarted[0]!).stat(id);
    return view.currentReplicas === 3;
  });
  t.deepEqual(holdersOf(view), ['b', 'c', 'd']);
  for (const p of restarted) {
    t.deepEqual(await readdir(join(p.dataDir, 'persistent-cache')), [`${id}.json`], `${p.name} kept its copy`);
    const local = join(c.dir, `after-restart-${p.name}.bin`);
    await client(p).export({ id, output: local });
    t.is(sha256(await readFile(local)), sha256(bytes));
  }
});

test.serial('at the TTL every copy is removed, and the id then reads as expired', async (t) => {
  const { c, peers, client } = await cluster(t);
  const file = join(c.dir, 'short.bin');
  await writeFile(file, testBytes(3 * MIB, 5));
  const task = await client(peers[0]!).import({ path: file, replicas: 3, ttlMs: 6_000 });
  await until('three replicas', 5_000, async () => (await client(peers[1]!).stat(task.taskId)).currentReplicas === 3);
  await delay(Math.max(0, task.expiresAt - Date.now()) + 1_500);
  for (const p of peers) {
    t.deepEqual(await readdir(join(p.dataDir, 'persistent-cache')), [], `${p.name} holds no copy after the TTL`);
    const tasks = await runCli(['task', 'ls', '--json', '--socket', p.socket]);
    t.deepEqual(JSON.parse(tasks.stdout), [], `${p.name} has no pieces left`);
  }
  const err = await t.throwsAsync(client(peers[3]!).export({ id: task.taskId, output: join(c.dir, 'late.bin') }));
  t.regex(err!.message, /has expired/);
});

test.serial('concurrent imports on three peers and concurrent exports of each elsewhere; rm removes every copy cluster-wide', async (t) => {
  const { c, peers, client } = await cluster(t);
  const files = await Promise.all([0, 1, 2].map(async (i) => {
    const bytes = testBytes(8 * MIB + i, 100 + i);
    const path = join(c.dir, `f${i}.bin`);
    await writeFile(path, bytes);
    return { path, bytes };
  }));
  const tasks = await Promise.all(files.map((f, i) => client(peers[i]!).import({ path: f.path, replicas: 2, ttlMs: 3_600_000 })));
  const outs = await Promise.all(tasks.map(async (task, i) => {
    const out = join(c.dir, `out${i}.bin`);
    await client(peers[(i + 1) % 4]!).export({ id: task.taskId, output: out });
    await client(peers[3]!).export({ id: task.taskId, output: `${out}.d` });
    return out;
  }));
  for (const [i, out] of outs.entries()) {
    t.is(sha256(await readFile(out)), sha256(files[i]!.bytes));
    t.is(sha256(await readFile(`${out}.d`)), sha256(files[i]!.bytes));
  }
  const listed = await client(peers[2]!).list();
  t.deepEqual(listed.map((v) => v.taskId).sort(), tasks.map((v) => v.taskId).sort());

  const removed = await runCli(['cache', 'rm', tasks[0]!.taskId, '--socket', peers[3]!.socket]);
  t.is(removed.code, 0, removed.stderr);
  for (const p of peers) t.false((await readdir(join(p.dataDir, 'persistent-cache'))).includes(`${tasks[0]!.taskId}.json`), `${p.name} dropped the removed task`);
  const stat = await runCli(['cache', 'stat', tasks[0]!.taskId, '--socket', peers[1]!.socket]);
  t.regex(stat.stderr, /was deleted/);
});
