import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SchedulerClient } from '../../core/protocol/rpc/scheduler-client.js';
import { ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { generatedSecretPaths } from '../../core/protocol/auth/cluster-secrets.js';
import { startAllInOne } from '../support/all-in-one.js';
import { tmpDir } from '../support/env.js';
import { startLonePeer } from '../support/lone-peer.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('with no daemon, d7y get downloads in its own process, says so once, and a daemon started later serves what it fetched', async (t) => {
  const file = randomBytes(9 * 1024 * 1024 + 17);
  const origin = await startOriginServer(t, { files: { '/f.bin': file } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const out = join(dir, 'f.bin');

  const get = await runCli(['get', origin.urlOf('/f.bin'), '-O', out, '--no-progress'], { env, timeoutMs: 60_000 });
  t.is(get.code, 0, get.stderr);
  const said = get.stderr.split('\n').filter(Boolean);
  t.is(said.length, 2, get.stderr);
  t.regex(said[0]!, /^d7y: no daemon on .*peer\.sock: downloading with a peer in this process \(no scheduler, so from the origin; data in .*data\)$/);
  t.regex(said[1]!, /^d7y: 9\.0 MiB in .*: 0 B from peers, 9\.0 MiB from the origin, 0 B from the local cache → .*f\.bin$/);
  t.is(sha256(await readFile(out)), sha256(file));
  const served = origin.served.bytes;
  t.true(served <= file.length * 1.05, `origin served ${served} bytes`);

  const streamed = await runCli(['get', origin.urlOf('/f.bin'), '-O', '-', '--no-daemon'], { env, timeoutMs: 60_000 });
  t.is(streamed.code, 0, streamed.stderr);
  t.is(sha256(streamed.stdoutBytes), sha256(file));
  t.is(origin.served.bytes, served, 'the second daemonless get finds the pieces on disk');

  const refused = await runCli(['get', origin.urlOf('/f.bin'), '-O', join(dir, 'x'), '--daemon'], { env });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^d7y: no d7y daemon is listening on .*peer\.sock\n\s+fix: start one with `d7y up`/);

  await startLonePeer(t, dir, env);
  const viaDaemon = await runCli(['get', origin.urlOf('/f.bin'), '-O', join(dir, 'g.bin'), '--daemon', '--no-progress'], { env, timeoutMs: 60_000 });
  t.is(viaDaemon.code, 0, viaDaemon.stderr);
  t.regex(viaDaemon.stderr, /^d7y: 9\.0 MiB in .*: 0 B from peers, 0 B from the origin, 9\.0 MiB from the local cache → .*g\.bin\n$/, 'the daemon answers; no embedded peer');
  t.is(sha256(await readFile(join(dir, 'g.bin'))), sha256(file));
  t.is(origin.served.bytes, served, 'the daemon serves the pieces the daemonless get left');

  const busy = await runCli(['get', origin.urlOf('/f.bin'), '-O', join(dir, 'h.bin'), '--no-daemon'], { env, timeoutMs: 30_000 });
  t.is(busy.code, 1);
  t.regex(busy.stderr, /is in use by process \d+ \(d7y peer/);
  t.regex(busy.stderr, /fix: use that process/);
});

test('two daemonless gets on one data dir at once: the second waits for the first, both files are right', async (t) => {
  const a = randomBytes(6 * 1024 * 1024);
  const b = randomBytes(5 * 1024 * 1024);
  const origin = await startOriginServer(t, { files: { '/a.bin': a, '/b.bin': b }, behaviour: { rateBytesPerSec: 1024 * 1024 } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const [ra, rb] = await Promise.all([
    runCli(['get', origin.urlOf('/a.bin'), '-O', join(dir, 'a.bin'), '--no-progress'], { env, timeoutMs: 90_000 }),
    runCli(['get', origin.urlOf('/b.bin'), '-O', join(dir, 'b.bin'), '--no-progress'], { env, timeoutMs: 90_000 }),
  ]);
  t.is(ra.code, 0, ra.stderr);
  t.is(rb.code, 0, rb.stderr);
  t.is(sha256(await readFile(join(dir, 'a.bin'))), sha256(a));
  t.is(sha256(await readFile(join(dir, 'b.bin'))), sha256(b));
  t.is([ra, rb].filter((r) => /waiting for it to end/.test(r.stderr)).length, 1, `${ra.stderr}\n${rb.stderr}`);
});

test('a daemonless get given a config with schedulers is a peer of the swarm: its pieces come from the seed peer, not the origin', async (t) => {
  const file = randomBytes(24 * 1024 * 1024);
  const origin = await startOriginServer(t, { files: { '/m.bin': file } });
  const up = await startAllInOne(t);
  const sched = /"schedulers":\["([^"]+)"\]/.exec(up.banner)?.[1] ?? '';
  t.truthy(sched, up.banner);
  const first = await runCli(['get', origin.urlOf('/m.bin'), '-O', join(up.dir, 'first.bin'), '--socket', up.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(first.code, 0, first.stderr);
  const served = origin.served.bytes;

  const dir = await tmpDir(t);
  const config = join(dir, 'node.yaml');
  const secrets = generatedSecretPaths(up.dataDir);
  await writeFile(config, [
    `dataDir: ${join(dir, 'data')}`, `security: { clusterSecretFile: "${secrets.clusterSecretFile}" }`, `peer: { schedulers: ["${sched}"] }`,
  ].join('\n'));
  const get = await runCli(['get', origin.urlOf('/m.bin'), '-O', join(dir, 'm.bin'), '-c', config, '--no-progress'], { timeoutMs: 90_000 });
  t.is(get.code, 0, get.stderr);
  t.regex(get.stderr, new RegExp(`downloading with a peer in this process \\(schedulers ${sched.replace(/\./g, '\\.')};`));
  t.is(sha256(await readFile(join(dir, 'm.bin'))), sha256(file));
  t.is(origin.served.bytes, served, 'the embedded peer read nothing from the origin');

  const read = async (file: string) => (await readFile(file, 'utf8')).trim();
  const scheduler = new SchedulerClient({
    addresses: [sched], auth: { auth: new ClusterAuth(await read(secrets.clusterSecretFile), await read(secrets.seedSecretFile)) },
  });
  t.teardown(() => scheduler.close());
  const hosts = (await scheduler.listHosts()).map((h) => h.id);
  t.true(hosts.some((id) => !id.endsWith('-seed') && !id.includes('.embedded-')), `the node's own peer is still known: ${hosts.join(', ')}`);
  t.false(hosts.some((id) => id.includes('.embedded-')), `the embedded peer left the scheduler when it stopped: ${hosts.join(', ')}`);
});
