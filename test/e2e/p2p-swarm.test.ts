import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { taskId } from '../../core/index.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, testBytes } from './p2p-cluster.js';

const MIB = 1024 * 1024;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('six peers download one 64 MiB file at once; the origin serves it about once', async (t) => {
  t.timeout(150_000);
  const file = testBytes(64 * MIB, 64);
  const origin = await startOriginServer(t, { files: { '/swarm/big.bin': file } });
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const schedulers = [scheduler.address];
  const [, ...peers] = await Promise.all([
    cluster.peer('seed', { seed: true, schedulers, peer: { upload: { port: 0 } } }),
    ...Array.from({ length: 6 }, (_, i) => cluster.peer(`peer-${i + 1}`, { schedulers })),
  ]);
  const url = origin.urlOf('/swarm/big.bin');

  const results = await Promise.all(peers.map((p) =>
    runCli(['get', url, '-O', join(cluster.dir, `${p.name}.out`), '--socket', p.socket, '--no-progress'], { timeoutMs: 120_000 })));
  for (const r of results) t.is(r.code, 0, r.stderr);

  const want = sha256(file);
  for (const p of peers) t.is(sha256(await readFile(join(cluster.dir, `${p.name}.out`))), want, `${p.name} output differs`);
  t.true(origin.served.bytes <= 1.05 * file.length, `origin served ${origin.served.bytes} bytes for a ${file.length}-byte file`);

  const id = taskId({ url });
  const normalIds = new Set<string>();
  type Stat = { parentIds: string[]; trafficTypes: Record<string, number>; pieceCount: number; pieces: { parentId?: string }[] };
  const stats = await Promise.all(peers.map(async (p) => cluster.client(p).stat(id) as Promise<Stat>));
  for (const s of stats) t.is(s.trafficTypes['back-to-source'] ?? 0, 0, 'a normal peer went to the origin');
  for (const s of stats) for (const parent of s.parentIds) if (!parent.endsWith('-seed')) normalIds.add(parent);
  t.true(normalIds.size > 0, `every piece came from the seed peer: ${JSON.stringify(stats.map((s) => s.parentIds))}`);
  const fromSeed = stats.reduce((sum, s) => sum + s.pieces.filter((p) => p.parentId?.endsWith('-seed')).length, 0);
  const count = stats[0]!.pieceCount;
  t.true(fromSeed <= Math.ceil(1.1 * count), `the super-seeding seed sent ${fromSeed} pieces of a ${count}-piece task to 6 peers`);
});
