import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, testBytes } from './p2p-cluster.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;

test('a full disk fails the get with a clear error and leaves no cache entry or output', async (t) => {
  const file = testBytes(24 * MIB, 11);
  const origin = await startOriginServer(t, { files: { '/huge.bin': file } });
  const cluster = await P2PCluster.create(t);
  const small = join(cluster.dir, 'small');
  await mkdir(small);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', small]);
  let peer: Awaited<ReturnType<P2PCluster['peer']>> | undefined;
  t.teardown(async () => {
    if (peer) await cluster.stop(peer);
    await run('umount', ['-l', small]).catch(() => undefined);
  });
  peer = await cluster.peer('cramped', { dataDir: join(small, 'peer') });
  const out = join(cluster.dir, 'out');
  await mkdir(out);

  const r = await runCli(['get', origin.urlOf('/huge.bin'), '-O', join(out, 'huge.bin'), '--socket', peer.socket]);
  t.is(r.code, 1);
  t.regex(r.stderr, /no room left in the disk storage for http:\/\/127\.0\.0\.1:\d+\/huge\.bin/);
  t.regex(r.stderr, /fix: free space/);
  t.deepEqual(await readdir(out), []);
  t.deepEqual(await cluster.client(peer).list(), [], 'a partial task stayed in the cache');
});
