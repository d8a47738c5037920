import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { MIB, sha256 } from './faults-support.js';
import { P2PCluster, testBytes } from './p2p-cluster.js';

test('an origin answering 503 for a while: retries, then the right bytes; one that keeps failing: a clear error', async (t) => {
  t.timeout(120_000);
  const file = testBytes(6 * MIB, 31);
  const origin = await startOriginServer(t, { files: { '/f/flaky.bin': file, '/f/down.bin': file } });
  origin.behave('/f/flaky.bin', { failFirst: { count: 2, status: 503 } });
  origin.behave('/f/down.bin', { status: 503 });
  const cluster = await P2PCluster.create(t);
  const peer = await cluster.peer('peer');

  const out = join(cluster.dir, 'flaky.out');
  const ok = await runCli(['get', origin.urlOf('/f/flaky.bin'), '-O', out, '--socket', peer.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(ok.code, 0, ok.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.true(origin.served.requests('/f/flaky.bin') > 2, 'the failed requests were retried');

  const failed = await runCli(['get', origin.urlOf('/f/down.bin'), '-O', join(cluster.dir, 'down.out'), '--socket', peer.socket, '--no-progress'],
    { timeoutMs: 90_000 });
  t.is(failed.code, 1);
  t.regex(failed.stderr, /503/, 'the error names the origin\'s status');
  t.regex(failed.stderr, /down\.bin/, 'and the object');
  t.false(failed.stderr.includes('    at '), 'no stack trace');
});
