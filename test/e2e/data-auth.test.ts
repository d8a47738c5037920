import { Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { taskId } from '../../core/index.js';
import { ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { generatedSecretPaths } from '../../core/protocol/auth/cluster-secrets.js';
import { DfdaemonUploadClient } from '../../core/protocol/rpc/dfdaemon-upload-client.js';
import { HostType, type Host } from '../../core/protocol/rpc/gen/common.js';
import { DfdaemonUploadService, type DfdaemonUploadServer } from '../../core/protocol/rpc/gen/dfdaemon.js';
import { SchedulerClient } from '../../core/protocol/rpc/scheduler-client.js';
import { VortexClient } from '../../core/protocol/vortex/vortex-client.js';
import { startAllInOne } from '../support/all-in-one.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { startFakeParent } from './faults-fake-parent.js';
import { P2PCluster, TEST_PIECE_FLOOR, testBytes } from './p2p-cluster.js';

const MIB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function host(id: string, type = HostType.HOST_TYPE_NORMAL, rpcPort = 1): Host {
  return {
    id, ip: '127.0.0.1', hostname: id, type, idc: '', location: '', uploadPort: 1, rpcPort, maxTxBps: 1, txBps60s: 0,
    concurrentUploads: 0, uploadLimit: 1, uploadSuccessCount: 0, uploadFailedCount: 0, announcedAt: Date.now(),
  };
}

function schedulerAs(t: ExecutionContext, address: string, auth?: ClusterAuth, hostIdentity?: string): SchedulerClient {
  const c = new SchedulerClient({ addresses: [address], callTimeoutMs: 5_000, auth: auth && { auth, hostIdentity } });
  t.teardown(() => c.close());
  return c;
}

function dfdaemonAs(t: ExecutionContext, auth?: ClusterAuth): DfdaemonUploadClient {
  const c = new DfdaemonUploadClient({ callTimeoutMs: 5_000, auth: auth && { auth } });
  t.teardown(() => c.close());
  return c;
}

/** A dfdaemon server that only records the DownloadTask calls it gets (and the origin headers in them). */
async function recordingDfdaemon(t: ExecutionContext): Promise<{ port: number; headers: Record<string, string>[] }> {
  const headers: Record<string, string>[] = [];
  const server = new Server();
  const impl: DfdaemonUploadServer = {
    downloadTask: (call) => {
      headers.push(call.request.download?.requestHeader ?? {});
      call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'recording only' });
    },
    syncPieces: (call) => call.end(),
    statTask: (_c, cb) => cb({ code: GrpcStatus.NOT_FOUND, details: 'none' }, null),
    deleteTask: (_c, cb) => cb(null, {}),
  };
  server.addService(DfdaemonUploadService, impl);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  t.teardown(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { port, headers };
}

test.serial('a cluster with a static secret downloads P2P, and every door of the data plane refuses who lacks the credential', async (t) => {
  t.timeout(240_000);
  const file = testBytes(6 * MIB, 41);
  const origin = await startOriginServer(t, { files: { '/p.bin': file, '/q.bin': file, '/internal': Buffer.from('loopback only') } });
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const seed = await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  let seedLog = '';
  seed.child.stderr?.setEncoding('utf8').on('data', (d: string) => { seedLog += d; });
  const child = await cluster.peer('child', { schedulers: [scheduler.address] });
  const seedInfo = await cluster.client(seed).peer() as { hostId: string; rpcPort: number; uploadPort: number };
  const childInfo = await cluster.client(child).peer() as { pieceHttpPort: number; uploadPort: number; rpcPort: number };

  // A normal download through the authenticated cluster: the seed goes to the origin with the user's header.
  const url = origin.urlOf('/p.bin');
  const out = join(cluster.dir, 'p.out');
  const r = await runCli(['get', url, '-O', out, '--socket', child.socket, '-H', 'Authorization: Bearer for-the-origin']);
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  const got = await cluster.client(child).stat(taskId({ url })) as { trafficTypes: Record<string, number> };
  t.deepEqual(Object.keys(got.trafficTypes), ['remote-peer'], 'every piece came from the seed peer');
  t.is(origin.served.lastHeaders('/p.bin')?.authorization, 'Bearer for-the-origin');

  // The scheduler: no credential, a wrong one.
  const stranger = schedulerAs(t, scheduler.address);
  const noCred = await t.throwsAsync(stranger.announceHost(host('127.0.0.1-intruder')));
  t.is((noCred as { code?: string }).code, 'D7Y_UNAUTHENTICATED');
  t.regex(noCred!.message, /refused AnnounceHost: no cluster credential was presented/);
  t.regex((noCred as { fix?: string }).fix ?? '', /security\.clusterSecret/);
  const session = stranger.announcePeer({ hostId: '127.0.0.1-intruder', taskId: taskId({ url }), peerId: 'intruder-peer' });
  t.teardown(() => session.cancel());
  await t.throwsAsync(async () => {
    await session.register({ url, tag: '', application: '', filteredQueryParams: [], requestHeader: {}, disableBackToSource: false, needBackToSource: false, options: {} });
    await session.next({ timeoutMs: 5_000 });
  }, { message: /no cluster credential/ }, 'an unauthenticated download registration is refused');
  await t.throwsAsync(schedulerAs(t, scheduler.address, new ClusterAuth('another-cluster-secret-0123456789'))
    .announceHost(host('127.0.0.1-intruder')), { message: /cluster credential is wrong/ });
  await t.throwsAsync(startFakeParent(t, {
    name: 'stranger', scheduler: scheduler.address, url, file, pieceLength: TEST_PIECE_FLOOR, clusterSecret: null, serve: (_k, b) => b,
  }), { message: /no cluster credential/ }, 'a fake parent without the credential cannot announce its host');

  // A member (it holds the cluster secret) cannot take the seed's id, nor make itself a seed.
  const trap = await recordingDfdaemon(t);
  const member = schedulerAs(t, scheduler.address, cluster.auth(), 'a-member-of-the-cluster');
  const spoof = await t.throwsAsync(member.announceHost(host(seedInfo.hostId, HostType.HOST_TYPE_SUPER, trap.port)));
  t.is((spoof as { code?: string }).code, 'D7Y_PERMISSION_DENIED');
  t.regex(spoof!.message, /belongs to another identity/);
  await t.throwsAsync(member.announceHost(host('127.0.0.1-fake-seed', HostType.HOST_TYPE_SUPER, trap.port)), { message: /without the seed credential/ });
  const url2 = origin.urlOf('/q.bin');
  const r2 = await runCli(['get', url2, '-O', join(cluster.dir, 'q.out'), '--socket', child.socket, '-H', 'Authorization: Bearer for-the-origin']);
  t.is(r2.code, 0, r2.stderr);
  t.is(origin.served.lastHeaders('/q.bin')?.authorization, 'Bearer for-the-origin', 'the real seed fetched it with the header');
  t.deepEqual(trap.headers, [], 'the spoofed seed records got no DownloadTask and no origin header');

  // Control calls on the scheduler.
  await t.throwsAsync(stranger.statTask(taskId({ url })), { message: /refused StatTask: no cluster credential/ });
  await t.throwsAsync(stranger.deleteTask(taskId({ url })), { message: /refused DeleteTask: no cluster credential/ });
  await t.throwsAsync(stranger.deleteHost(seedInfo.hostId), { message: /refused DeleteHost: no cluster credential/ });
  await t.throwsAsync(member.statTask(taskId({ url })), { message: /needs the seed credential/ }, 'StatTask (it shows URLs) is for schedulers and seeds');
  await t.throwsAsync(member.deleteHost(seedInfo.hostId), { message: /belongs to another identity|needs the seed credential/ });
  const hosts = await schedulerAs(t, scheduler.address, cluster.auth(true)).listHosts();
  t.true(hosts.some((h) => h.id === seedInfo.hostId && h.type === HostType.HOST_TYPE_SUPER), 'the seed is still known as a seed');
  // A proof copied off the wire: the scheduler took it once, and refuses it the second time.
  const copier = cluster.auth(true);
  const copied = { member: copier.memberProof.bind(copier), seed: copier.seedProof.bind(copier), seen: new Map<string, string | undefined>() };
  copier.memberProof = (scope) => { const k = `m${scope}`; if (!copied.seen.has(k)) copied.seen.set(k, copied.member(scope)); return copied.seen.get(k) as string; };
  copier.seedProof = (scope) => { const k = `s${scope}`; if (!copied.seen.has(k)) copied.seen.set(k, copied.seed(scope)); return copied.seen.get(k); };
  const replayer = schedulerAs(t, scheduler.address, copier);
  t.true((await replayer.listHosts()).length >= 2, 'the first use of the proof is served');
  await t.throwsAsync(replayer.listHosts(), { message: /refused ListHosts: the cluster credential was already used once/ }, 'the same proof again is a replay');

  // The seed's dfdaemon: no fetch of a loopback URL for a stranger or a mere member.
  const seedRpc = { host: '127.0.0.1', port: seedInfo.rpcPort };
  const internal = { url: origin.urlOf('/internal'), tag: '', application: '', filteredQueryParams: [], requestHeader: {}, disableBackToSource: false, needBackToSource: true, options: {} };
  const drain = async (it: AsyncIterable<unknown>) => { for await (const _ of it) { /* progress */ } };
  const ssrf = await t.throwsAsync(drain(dfdaemonAs(t).downloadTask(seedRpc, internal)));
  t.is((ssrf as { code?: string }).code, 'D7Y_UNAUTHENTICATED');
  await t.throwsAsync(drain(dfdaemonAs(t, cluster.auth()).downloadTask(seedRpc, internal)), { message: /needs the seed credential/ });
  t.is(origin.served.requests('/internal'), 0, 'the seed never fetched the URL it was handed');
  await t.throwsAsync(dfdaemonAs(t).statTask(seedRpc, taskId({ url })), { message: /refused StatTask: no cluster credential/ });
  await t.throwsAsync(dfdaemonAs(t).deleteTask(seedRpc, taskId({ url })), { message: /refused DeleteTask: no cluster credential/ });
  await t.throwsAsync(dfdaemonAs(t, cluster.auth()).deleteTask(seedRpc, taskId({ url })), { message: /needs the seed credential/ });
  t.true((await cluster.client(seed).stat(taskId({ url })) as { finished: boolean }).finished, 'the seed still holds the task');

  // A normal peer obeys only the schedulers it announced itself to: a mere member cannot make it fetch, stat or delete.
  const childRpc = { host: '127.0.0.1', port: childInfo.rpcPort };
  const notScheduler = /refused (DownloadTask|StatTask|DeleteTask): only a scheduler this peer announced itself to/;
  await t.throwsAsync(drain(dfdaemonAs(t, cluster.auth()).downloadTask(childRpc, internal)), { message: notScheduler });
  await t.throwsAsync(dfdaemonAs(t, cluster.auth()).statTask(childRpc, taskId({ url })), { message: notScheduler });
  await t.throwsAsync(dfdaemonAs(t, cluster.auth()).deleteTask(childRpc, taskId({ url })), { message: notScheduler });
  const guessed = randomBytes(32);
  await t.throwsAsync(dfdaemonAs(t, cluster.auth()).deleteTask(childRpc, taskId({ url }), { controlKey: guessed }), { message: /the control proof is wrong/ });
  t.is(origin.served.requests('/internal'), 0, 'the child never fetched the URL it was handed');
  t.true((await cluster.client(child).stat(taskId({ url })) as { finished: boolean }).finished, 'the child still holds the task');

  // Vortex and piece HTTP of the child.
  const id = taskId({ url });
  const upload = { host: '127.0.0.1', port: childInfo.uploadPort };
  for (const [who, auth, why] of [['no credential', undefined, /no cluster credential|requires the cluster credential/], ['a wrong one', new ClusterAuth('another-cluster-secret-0123456789'), /wrong/]] as const) {
    const vortex = new VortexClient({ connectTimeoutMs: 3_000, readTimeoutMs: 3_000, auth });
    t.teardown(() => vortex.close());
    const e = await t.throwsAsync(vortex.downloadPiece(upload, { taskId: id, number: 0 }), undefined, `Vortex with ${who}`);
    t.is((e as { code?: string }).code, 'D7Y_UNAUTHENTICATED', e?.message);
    t.regex(e!.message, why);
  }
  const member2 = new VortexClient({ auth: cluster.auth() });
  t.teardown(() => member2.close());
  const piece = await member2.downloadPiece(upload, { taskId: id, number: 1 });
  const chunks: Buffer[] = [];
  for await (const c of piece.body) chunks.push(c as Buffer);
  t.true(Buffer.concat(chunks).equals(file.subarray(TEST_PIECE_FLOOR, 2 * TEST_PIECE_FLOOR)), 'a member gets the piece over Vortex');
  const refused = await fetch(`http://127.0.0.1:${childInfo.pieceHttpPort}/pieces/${id}/1`);
  t.is(refused.status, 401);
  t.is((await refused.json() as { code: string }).code, 'D7Y_UNAUTHENTICATED');
  const served = await fetch(`http://127.0.0.1:${childInfo.pieceHttpPort}/pieces/${id}/1`, { headers: cluster.pieceAuth(id, 1) });
  t.is(served.status, 200);
  t.true(Buffer.from(await served.arrayBuffer()).equals(file.subarray(TEST_PIECE_FLOOR, 2 * TEST_PIECE_FLOOR)));
  t.regex(seedLog, /request refused: missing or wrong cluster credential/, 'the seed logs who it refused');
  t.notRegex(seedLog, new RegExp(cluster.secrets.clusterSecret), 'the secret never reaches a log');
});

test.serial('d7y up with no setting: its roles share generated secrets (mode 0600), strangers are refused and its peer still downloads P2P', async (t) => {
  t.timeout(180_000);
  const file = testBytes(12 * MIB, 43);
  const origin = await startOriginServer(t, { files: { '/u.bin': file } });
  const up = await startAllInOne(t);
  const sched = /"schedulers":\["([^"]+)"\]/.exec(up.banner)?.[1] ?? '';
  t.truthy(sched, up.banner);
  for (const f of Object.values(generatedSecretPaths(up.dataDir))) t.is((await stat(f)).mode & 0o777, 0o600, f);
  await t.throwsAsync(schedulerAs(t, sched).announceHost(host('127.0.0.1-intruder')), { message: /no cluster credential/ });
  const url = origin.urlOf('/u.bin');
  const out = join(up.dir, 'u.out');
  const r = await runCli(['get', url, '-O', out, '--socket', up.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  const { LocalApiClient } = await import('../../core/protocol/local-api/local-api-client.js');
  const client = new LocalApiClient(up.socket);
  t.teardown(() => client.close());
  const got = await client.stat(taskId({ url })) as { trafficTypes: Record<string, number> };
  t.deepEqual(Object.keys(got.trafficTypes), ['remote-peer'], 'the peer got every piece from the seed peer');
});
