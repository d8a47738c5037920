import test from 'ava';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalCacheClient } from '../../core/protocol/local-api/local-cache-client.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, testBytes, type DaemonProcess } from './p2p-cluster.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface PushReport { taskId: string; peers: { hostname: string; outcome: string; seconds?: number }[] }

test('d7y push --to 2: two of the three other peers fetch the file now and say so; each then holds the same bytes', async (t) => {
  const c = await P2PCluster.create(t);
  const scheduler = await c.scheduler('scheduler', { persistentCache: { checkInterval: 500, holderTtl: 3_000 } });
  const peers: DaemonProcess[] = [];
  for (const name of ['a', 'b', 'c', 'd']) peers.push(await c.peer(name, { schedulers: [scheduler.address], peer: { persistentCache: { announceInterval: '500ms' } } }));
  const [a] = peers as [DaemonProcess];
  const bytes = testBytes(12 * 1024 * 1024, 7);
  const file = join(c.dir, 'release.tar');
  await writeFile(file, bytes);

  const bad = await runCli(['push', file, '--to', 'some', '--socket', a.socket]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--to some is not a scope\n {2}fix: give --to all, a number of peers/);

  // The other peers are known to the scheduler once they have announced their persistent cache.
  await new Promise((r) => setTimeout(r, 1500));
  const r = await runCli(['push', file, '--to', '2', '--json', '--socket', a.socket], { timeoutMs: 120_000 });
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as PushReport;
  t.is(report.peers.length, 2, r.stdout);
  t.true(report.peers.every((p) => p.outcome === 'fetched' && p.hostname !== 'a'), r.stdout);

  const view = await new LocalCacheClient(a.socket).stat(report.taskId);
  const holders = (view.holders ?? []).filter((h) => h.persistent).map((h) => h.hostname).sort();
  t.deepEqual(holders, ['a', ...report.peers.map((p) => p.hostname)].sort());
  for (const p of report.peers) {
    const peer = peers.find((x) => x.name === p.hostname)!;
    const out = join(c.dir, `on-${p.hostname}.tar`);
    const exported = await runCli(['cache', 'export', report.taskId, '-O', out, '--socket', peer.socket], { timeoutMs: 60_000 });
    t.is(exported.code, 0, exported.stderr);
    t.is(sha256(await readFile(out)), sha256(bytes));
  }

  const table = await runCli(['push', file, '--to', 'all', '--socket', a.socket], { timeoutMs: 120_000 });
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^PEER\s+IP\s+OUTCOME\n/);
  t.is((table.stdout.match(/already held/g) ?? []).length, 2, table.stdout);
  t.is((table.stdout.match(/fetched in/g) ?? []).length, 1, table.stdout);
  t.regex(table.stderr, /d7y push: 12\.0 MiB as [0-9a-f]{64} on 3 of 3 peers\n/);
});
