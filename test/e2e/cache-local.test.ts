import test from 'ava';
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LocalCacheClient } from '../../core/protocol/local-api/local-cache-client.js';
import { D7yClient } from '../../sdk/index.js';
import { PassThrough } from 'node:stream';
import type { CacheTaskView } from '../../core/protocol/local-api/cache-api.js';
import { P2PCluster, testBytes } from './p2p-cluster.js';
import { runCli } from '../support/run-cli.js';
import { d7yBin } from '../support/env.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const NO_STACK = /\n\s+at .+:\d+:\d+/;
const MIB = 1024 * 1024;

test('one peer, no scheduler: import prints the content id, export writes the same bytes (file and stdout), stat, list, rm; bad input is refused and leaves nothing', async (t) => {
  const cluster = await P2PCluster.create(t);
  const peer = await cluster.peer('solo', { peer: { persistentCache: { minTtl: '1s' } } });
  const dir = cluster.dir;
  const file = join(dir, 'model.bin');
  const bytes = testBytes(5 * MIB + 123);
  await writeFile(file, bytes);
  const sock = ['--socket', peer.socket];

  const imported = await runCli(['cache', 'import', file, '--ttl', '10m', '--tag', 'v1', ...sock], { timeoutMs: 60_000 });
  t.is(imported.code, 0, imported.stderr);
  const id = imported.stdout.trim();
  const expected = createHash('sha256').update(bytes).update('v1').update('').update('PERSISTENT_CACHE').digest('hex');
  t.is(id, expected, 'the id is Dragonfly\'s persistent-cache id of the content and tag');
  t.regex(imported.stderr, /imported 5\.0 MiB/);

  const again = await runCli(['cache', 'import', file, '--ttl', '10m', '--tag', 'v1', '--json', ...sock]);
  t.is(again.code, 0, again.stderr);
  t.is((JSON.parse(again.stdout) as CacheTaskView).taskId, id, 'importing the same content again names the same task');

  const out = join(dir, 'out.bin');
  const exported = await runCli(['cache', 'export', id, '-O', out, ...sock]);
  t.is(exported.code, 0, exported.stderr);
  t.is(sha256(await readFile(out)), sha256(bytes));
  const streamed = await promisify(execFile)(process.execPath, [d7yBin, 'cache', 'export', id, '-O', '-', ...sock], { encoding: 'buffer', maxBuffer: 64 * MIB });
  t.is(sha256(streamed.stdout), sha256(bytes), '-O - writes the bytes to stdout');

  const stat = await runCli(['cache', 'stat', id, '--json', ...sock]);
  t.is(stat.code, 0, stat.stderr);
  const view = JSON.parse(stat.stdout) as CacheTaskView;
  t.like(view, { taskId: id, contentLength: bytes.length, pieceCount: 6, digest: `sha256:${sha256(bytes)}`, replicas: 2, heldHere: true, ttlMs: 600_000 });
  t.true(view.expiresAt - Date.now() > 500_000 && view.expiresAt - Date.now() <= 600_000);
  const human = await runCli(['cache', 'stat', id, ...sock]);
  t.regex(human.stdout, /size\s+5\.0 MiB/);
  t.regex(human.stdout, /ttl left\s+(9m|10m)/);

  // A TTL long enough for the listing below to see it on a loaded machine, short enough to wait out.
  const named = await runCli(['cache', 'import', file, '--id', 'my-model', '--ttl', '12s', '--replicas', '1', ...sock]);
  const namedAt = Date.now();
  t.is(named.code, 0, named.stderr);
  t.is(named.stdout.trim(), 'my-model');
  const listed = await runCli(['cache', 'list', '--json', ...sock]);
  t.deepEqual((JSON.parse(listed.stdout) as CacheTaskView[]).map((v) => v.name ?? v.taskId).sort(), [id, 'my-model'].sort());

  // Bad input: each refused with what to do, no stack trace.
  const longTtl = await runCli(['cache', 'import', file, '--ttl', '8d', ...sock]);
  t.is(longTtl.code === 0, false);
  t.regex(longTtl.stderr, /--ttl 8d is out of range: it must be from 1s to 7d/);
  t.notRegex(longTtl.stderr, NO_STACK);
  const badTtl = await runCli(['cache', 'import', file, '--ttl', '10', ...sock]);
  t.not(badTtl.code, 0);
  t.regex(badTtl.stderr, /--ttl/);
  const unknown = await runCli(['cache', 'export', 'ab'.repeat(32), '-O', join(dir, 'x.bin'), ...sock]);
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /no persistent cache task a{1}b/);
  t.regex(unknown.stderr, /fix:/);
  const noDir = await runCli(['cache', 'export', id, '-O', join(dir, 'missing', 'x.bin'), ...sock]);
  t.not(noDir.code, 0);
  t.regex(noDir.stderr, /directory .*missing does not exist/);
  const noFile = await runCli(['cache', 'import', join(dir, 'nope.bin'), ...sock]);
  t.regex(noFile.stderr, /cannot read .*nope\.bin: no such file/);

  // The named task's TTL runs out: its copy goes.
  await delay(Math.max(0, namedAt + 13_000 - Date.now()));
  const expired = await runCli(['cache', 'export', 'my-model', '-O', join(dir, 'late.bin'), ...sock]);
  t.not(expired.code, 0);
  t.regex(expired.stderr, /no persistent cache task my-model/);

  const removed = await runCli(['cache', 'rm', id, ...sock]);
  t.is(removed.code, 0, removed.stderr);
  const gone = await runCli(['cache', 'stat', id, ...sock]);
  t.not(gone.code, 0);
  const client = new LocalCacheClient(peer.socket);
  t.teardown(() => client.close());
  t.deepEqual(await client.list(), []);
  t.deepEqual(await readdir(join(peer.dataDir, 'persistent-cache')), []);
});

test('a file that changes while it is imported is refused and leaves no task behind', async (t) => {
  const cluster = await P2PCluster.create(t);
  const peer = await cluster.peer('solo');
  const file = join(cluster.dir, 'growing.bin');
  await writeFile(file, testBytes(64 * MIB));
  const client = new LocalCacheClient(peer.socket);
  t.teardown(() => client.close());
  let touched = false;
  const err = await t.throwsAsync(client.import({ path: file, ttlMs: 3_600_000, replicas: 1 }, (ev) => {
    if (ev.event === 'progress' && !touched) {
      touched = true;
      appendFileSync(file, 'more');
    }
  }));
  t.true(touched);
  t.regex(err!.message, /changed while it was being imported; nothing was kept/);
  t.deepEqual(await client.list(), []);
  t.deepEqual(await readdir(join(peer.dataDir, 'persistent-cache')), []);
  const tasks = await runCli(['task', 'ls', '--json', '--socket', peer.socket]);
  t.deepEqual(JSON.parse(tasks.stdout), []);
});

test('a disk that fills: the import is refused up front, or undone when it fills on the way, with a clear error', async (t) => {
  const cluster = await P2PCluster.create(t, { disk: { quota: '8MiB' } });
  const peer = await cluster.peer('small');
  const client = new LocalCacheClient(peer.socket);
  t.teardown(() => client.close());
  const big = join(cluster.dir, 'big.bin');
  await writeFile(big, testBytes(9 * MIB));
  const tooBig = await t.throwsAsync(client.import({ path: big, ttlMs: 3_600_000 }));
  t.regex(tooBig!.message, /no room for .*big\.bin \(9 MiB\).*persistent copies are never evicted/);

  const a = join(cluster.dir, 'a.bin');
  await writeFile(a, testBytes(5 * MIB, 1));
  await client.import({ path: a, ttlMs: 3_600_000, replicas: 1 });
  const b = join(cluster.dir, 'b.bin');
  await writeFile(b, testBytes(5 * MIB, 2));
  const full = await t.throwsAsync(client.import({ path: b, ttlMs: 3_600_000, replicas: 1 }));
  t.regex(full!.message, /no room|filled up/);
  const left = await client.list();
  t.is(left.length, 1, 'the first import is kept: nothing was evicted for the second');
  const out = join(cluster.dir, 'a-out.bin');
  await client.export({ id: left[0]!.taskId, output: out });
  t.is(sha256(await readFile(out)), sha256(testBytes(5 * MIB, 1)));
});

test('the SDK: cache.import, export (file and stream), stat, list and rm through the daemon', async (t) => {
  const cluster = await P2PCluster.create(t);
  const peer = await cluster.peer('sdk');
  const client = await D7yClient.connect({ socket: peer.socket });
  t.teardown(() => client.close());
  const bytes = testBytes(3 * MIB, 9);
  const file = join(cluster.dir, 'artifact.tgz');
  await writeFile(file, bytes);
  const phases = new Set<string>();
  const task = await client.cache.import(file, { id: 'build-42', ttl: '30m', replicas: 1, onProgress: (p) => phases.add(p.phase) });
  t.like(task, { name: 'build-42', contentLength: bytes.length, ttlMs: 1_800_000, replicas: 1 });
  t.true(phases.has('importing'));
  const out = join(cluster.dir, 'artifact-out.tgz');
  await client.cache.export('build-42', { output: out });
  t.is(sha256(await readFile(out)), sha256(bytes));
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await client.cache.export('build-42', { stream: sink });
  t.is(sha256(Buffer.concat(chunks)), sha256(bytes));
  t.is((await client.cache.stat('build-42')).taskId, task.taskId);
  t.is((await client.cache.list()).length, 1);
  await client.cache.rm('build-42');
  t.deepEqual(await client.cache.list(), []);
  const err = await t.throwsAsync(client.cache.import(file, { ttl: '1m' }));
  t.regex(err!.message, /--ttl 1m is out of range: it must be from 5m to 7d/);
});
