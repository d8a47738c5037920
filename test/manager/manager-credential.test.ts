import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { ManagerClient } from '../../core/protocol/manager/index.js';
import { HostType, type Host } from '../../core/protocol/rpc/gen/common.js';
import { SchedulerClient } from '../../core/protocol/rpc/scheduler-client.js';
import { freePort } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, startCli, stopProcess, waitForOutput } from '../support/run-cli.js';
import { P2PCluster, testBytes } from '../e2e/p2p-cluster.js';
import { startManager, startManagerProcess, tenantUser } from './manager-harness.js';

const MIB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('security.fromManager: the manager issues the tenant\'s credential; its nodes download P2P with it, strangers and another cluster\'s secret are refused, a seed without scope seed is told why, and a peer restarts on the kept credential while the manager is away', async (t) => {
  t.timeout(240_000);
  const cluster = await P2PCluster.create(t);
  const files = { '/a.bin': testBytes(5 * MIB, 3), '/b.bin': testBytes(3 * MIB + 9, 4) };
  // Not a manager: it answers the credential path with no usable secret.
  const notManager = await startOriginServer(t, { files: { '/oapi/v1/cluster-credential': Buffer.from('{"cluster_secret":"short"}') } });
  const origin = await startOriginServer(t, { files });

  const { process: manager, url, root } = await startManagerProcess(t, { dir: cluster.dir, pluginsFile: cluster.pluginsFile });
  const nodeToken = (await root.createToken({ name: 'nodes', scopes: ['job', 'cluster', 'seed'] })).token;
  const peerToken = (await root.createToken({ name: 'peers', scopes: ['cluster'] })).token;

  // What the manager hands out: the seed secret only to a token with scope seed.
  const asPeer = new ManagerClient({ url, token: peerToken });
  t.teardown(() => asPeer.close());
  const forPeer = await asPeer.call<{ cluster_secret: string; seed_secret?: string }>('GET', '/oapi/v1/cluster-credential');
  const asNode = new ManagerClient({ url, token: nodeToken });
  t.teardown(() => asNode.close());
  const forNode = await asNode.call<{ cluster_secret: string; seed_secret?: string }>('GET', '/oapi/v1/cluster-credential');
  t.is(forPeer.seed_secret, undefined, 'a peer token gets no seed secret');
  t.is(forPeer.cluster_secret, forNode.cluster_secret, 'one credential for the tenant');
  t.true((forNode.seed_secret ?? '').length >= 32);
  await t.throwsAsync(new ManagerClient({ url }).call('GET', '/oapi/v1/cluster-credential'), { message: /401|token|authenticat/i });

  const schedulerPort = await freePort();
  const schedulerConfig = join(cluster.dir, 'scheduler.json');
  await writeFile(schedulerConfig, JSON.stringify({
    dataDir: join(cluster.dir, 'scheduler'), pluginsFile: cluster.pluginsFile, log: { level: 'warn' }, security: { fromManager: true },
    scheduler: { listen: { host: '127.0.0.1', port: schedulerPort }, manager: { url, token: nodeToken, cluster: 'edge', keepaliveIntervalMs: 1_000 } },
  }));
  const scheduler = startCli(t, ['scheduler', '--config', schedulerConfig]);
  await waitForOutput(scheduler, /d7y: ready/, 60_000);
  const schedulers = [`127.0.0.1:${schedulerPort}`];
  const link = (token: string, name: string) => ({ manager: { url, token, cluster: name, keepaliveIntervalMs: 1_000 } });
  await cluster.peer('seed', { seed: true, schedulers, security: { fromManager: true }, peer: link(nodeToken, 'seeds') });
  const a = await cluster.peer('a', { schedulers, security: { fromManager: true }, peer: link(peerToken, 'seeds') });
  const b = await cluster.peer('b', { schedulers, security: { fromManager: true }, peer: link(peerToken, 'seeds') });
  const kept = join(a.dataDir, 'manager-credential.json');
  t.is((await stat(kept)).mode & 0o777, 0o600, 'the kept credential is 0600');

  for (const [who, path] of [[a, '/a.bin'], [b, '/a.bin']] as const) {
    const out = join(cluster.dir, `${who.name}-a.bin`);
    const r = await runCli(['get', origin.urlOf(path), '-O', out, '--socket', who.socket, '--no-progress'], { timeoutMs: 60_000 });
    t.is(r.code, 0, r.stderr);
    t.is(sha256(await readFile(out)), sha256(files[path]));
  }
  t.true(origin.served.bytes <= files['/a.bin'].length * 1.05, `the origin served the file about once (${origin.served.bytes} bytes): the second peer got it from the swarm`);

  // Strangers and another cluster's secret are refused by the scheduler.
  const hostMsg: Host = {
    id: 'stranger', ip: '127.0.0.1', hostname: 'stranger', type: HostType.HOST_TYPE_NORMAL, idc: '', location: '', uploadPort: 1, rpcPort: 1, maxTxBps: 1,
    txBps60s: 0, concurrentUploads: 0, uploadLimit: 1, uploadSuccessCount: 0, uploadFailedCount: 0, announcedAt: Date.now(),
  };
  for (const auth of [undefined, new ClusterAuth('another-cluster-secret-0123456789')]) {
    const c = new SchedulerClient({ addresses: schedulers, callTimeoutMs: 5_000, auth: auth && { auth } });
    t.teardown(() => c.close());
    await t.throwsAsync(c.announceHost(hostMsg), { message: /refused AnnounceHost/ });
  }

  // A seed peer whose token lacks scope seed is refused at start, with the fix.
  const badSeedConfig = join(cluster.dir, 'bad-seed.json');
  const badSeedDir = join(cluster.dir, 'bad-seed');
  await writeFile(badSeedConfig, JSON.stringify({
    dataDir: badSeedDir, pluginsFile: cluster.pluginsFile, log: { level: 'warn' }, security: { fromManager: true },
    peer: { seed: true, dataDir: badSeedDir, socket: join(badSeedDir, 'peer.sock'), host: { ip: '127.0.0.1', hostname: 'bad-seed' },
      upload: { port: 0 }, rpc: { port: 0 }, pieceHttp: { port: 0 }, proxy: { enabled: false }, schedulers, ...link(peerToken, 'seeds') },
  }));
  const bad = await runCli(['peer', '--config', badSeedConfig], { timeoutMs: 30_000 });
  t.not(bad.code, 0);
  t.regex(bad.stderr, /no seed credential: the token of peer\.manager lacks scope seed/);
  t.regex(bad.stderr, /fix: .*--scope cluster,job,seed/);
  t.false(/at .*\.js:\d+/.test(bad.stderr), 'no stack trace');

  // A link to something that is not a manager: refused at start with what to check, no crash.
  const strayConfig = join(cluster.dir, 'stray.json');
  const strayDir = join(cluster.dir, 'stray');
  await writeFile(strayConfig, JSON.stringify({
    dataDir: strayDir, pluginsFile: cluster.pluginsFile, log: { level: 'warn' }, security: { fromManager: true },
    peer: { dataDir: strayDir, socket: join(strayDir, 'peer.sock'), host: { ip: '127.0.0.1', hostname: 'stray' },
      upload: { port: 0 }, rpc: { port: 0 }, pieceHttp: { port: 0 }, proxy: { enabled: false }, schedulers,
      manager: { url: notManager.urlOf(''), token: 'd7y_not-a-token', cluster: 'seeds' } },
  }));
  const stray = await runCli(['peer', '--config', strayConfig], { timeoutMs: 30_000 });
  t.not(stray.code, 0);
  t.regex(stray.stderr, /answered GET \/oapi\/v1\/cluster-credential without a usable cluster secret/);
  t.false(/at .*\.js:\d+/.test(stray.stderr), 'no stack trace');

  // The manager goes away; peer a restarts on the credential it kept and still downloads P2P.
  await stopProcess(manager);
  await cluster.stop(a);
  const a2 = await cluster.peer('a', { schedulers, security: { fromManager: true }, peer: link(peerToken, 'seeds') });
  const out = join(cluster.dir, 'a-b.bin');
  const r = await runCli(['get', origin.urlOf('/b.bin'), '-O', out, '--socket', a2.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(files['/b.bin']));
});

test('each tenant gets its own cluster credential, the same on every call; the seed secret only with scope seed; no token, no credential', async (t) => {
  const m = await startManager(t);
  const a = await tenantUser(m, 'alice', 'tenant-a', ['cluster', 'seed']);
  const a2 = await tenantUser(m, 'amy', 'tenant-a', ['cluster']);
  const b = await tenantUser(m, 'bob', 'tenant-b', ['cluster']);
  const get = (c: ManagerClient) => c.call<{ tenant_id: string; cluster_secret: string; seed_secret?: string }>('GET', '/oapi/v1/cluster-credential');
  const [ca, ca2, cb, again] = [await get(a.pat), await get(a2.pat), await get(b.pat), await get(a.pat)];
  t.is(ca.cluster_secret, ca2.cluster_secret, 'one credential per tenant');
  t.is(ca.cluster_secret, again.cluster_secret, 'stable across calls');
  t.not(ca.cluster_secret, cb.cluster_secret, 'another tenant gets another credential');
  t.truthy(ca.seed_secret);
  t.is(ca2.seed_secret, undefined);
  const jobOnly = await tenantUser(m, 'carl', 'tenant-a', ['job']);
  await t.throwsAsync(get(jobOnly.pat), { message: /scope|cluster/ }, 'a token without scope cluster gets nothing');
  await t.throwsAsync(get(m.client()), { message: /401|token|sign/i });
});
