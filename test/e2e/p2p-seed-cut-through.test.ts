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

interface PieceView { number: number; parentId?: string; cost: number; createdAt: number }

const cutThrough = test.macro(async (t, upload: { cutThroughFromOrigin?: boolean }) => {
  t.timeout(120_000);
  const on = upload.cutThroughFromOrigin ?? true;
  // Six 1 MiB pieces from an origin sending 2 MiB/s: the seed holds its pieces one by one over about three seconds.
  const file = testBytes(6 * MIB, 21);
  const origin = await startOriginServer(t, { files: { '/slow.bin': file }, behaviour: { rateBytesPerSec: 2 * MIB } });
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const [seed, child, grandchild] = await Promise.all([
    cluster.peer('seed', { seed: true, schedulers: [scheduler.address], peer: { upload: { port: 0, ...upload } } }),
    cluster.peer('child', { schedulers: [scheduler.address] }),
    cluster.peer('grandchild', { schedulers: [scheduler.address] }),
  ]);
  const url = origin.urlOf('/slow.bin');
  const gets = await Promise.all([child, grandchild].map((p) =>
    runCli(['get', url, '-O', join(cluster.dir, `${p.name}.out`), '--socket', p.socket, '--no-progress'], { timeoutMs: 90_000 })));
  for (const r of gets) t.is(r.code, 0, r.stderr);
  for (const p of [child, grandchild]) t.is(sha256(await readFile(join(cluster.dir, `${p.name}.out`))), sha256(file), `${p.name}'s bytes differ`);
  t.true(origin.served.bytes <= file.length * 1.05, `the origin served ${origin.served.bytes} bytes for a ${file.length}-byte file`);

  const id = taskId({ url });
  type Stat = { pieces: PieceView[]; trafficTypes: Record<string, number> };
  const [atSeed, ...atPeers] = await Promise.all([seed, child, grandchild].map(async (p) => cluster.client(p).stat(id) as Promise<Stat>));
  const heldBySeedAt = new Map(atSeed!.pieces.map((p) => [p.number, p.createdAt]));
  // A piece the seed offered only once whole would start at a child after it was held there.
  const early = atPeers.flatMap((s) => s.pieces.filter((p) => p.parentId?.endsWith('-seed')))
    .filter((p) => p.createdAt - p.cost < heldBySeedAt.get(p.number)! - 200);
  const pieces = `${JSON.stringify(atPeers.map((s) => s.pieces))} / ${JSON.stringify(atSeed!.pieces)}`;
  if (on) t.true(early.length > 0, `no piece from the seed started before the seed held it: ${pieces}`);
  else t.is(early.length, 0, `with the option off, pieces from the seed started before the seed held them: ${pieces}`);
  for (const s of atPeers) t.is(s.trafficTypes['back-to-source'] ?? 0, 0, 'a normal peer went to the origin');
});

test('by default a seed passes on pieces still arriving from a slow origin: the child starts on them before the seed holds them', cutThrough, {});
test('with upload.cutThroughFromOrigin off, a seed passes on only whole pieces', cutThrough, { cutThroughFromOrigin: false });
