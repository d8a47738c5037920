import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { taskId } from '../../core/index.js';
import { HashRing } from '../../core/protocol/rpc/hash-ring.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, waitForOutput } from '../support/run-cli.js';
import { MIB, sha256, waitForPieces } from './faults-support.js';
import { P2PCluster, testBytes } from './p2p-cluster.js';

test('one of two schedulers killed mid-download: its peer moves to the other and finishes', async (t) => {
  t.timeout(180_000);
  const file = testBytes(24 * MIB, 41);
  const origin = await startOriginServer(t, { files: { '/f/failover.bin': file } });
  const url = origin.urlOf('/f/failover.bin');
  const id = taskId({ url });
  const cluster = await P2PCluster.create(t);
  const [a, b] = await Promise.all([cluster.scheduler('scheduler-a'), cluster.scheduler('scheduler-b')]);
  const schedulers = [a.address, b.address];
  const owner = new HashRing(schedulers).get(id) === a.address ? a : b;
  const [, child] = await Promise.all([
    cluster.peer('seed', { seed: true, schedulers, peer: { upload: { port: 0, rateLimit: 3 * MIB } } }),
    cluster.peer('child', { schedulers }),
  ]);
  const out = join(cluster.dir, 'child.out');
  const get = runCli(['get', url, '-O', out, '--socket', child.socket, '--no-progress'], { timeoutMs: 150_000 });
  await waitForPieces(cluster.client(child), id, 2);
  const moved = waitForOutput(child.child, /scheduler lost; moving to the next one/, 60_000);
  owner.child.kill('SIGKILL');

  t.regex(await moved, new RegExp((owner === a ? b : a).address.replace(/\./g, '\\.')), 'the peer names the scheduler it moved to');
  const r = await get;
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
});
