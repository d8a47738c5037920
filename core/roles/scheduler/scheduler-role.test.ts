import test from 'ava';
import { isD7yError } from '../../errors/d7y-error.js';
import { HostType } from '../../protocol/rpc/gen/common.js';
import type { Download, Piece } from '../../protocol/rpc/gen/common.js';
import type { AnnouncePeerResponse } from '../../protocol/rpc/gen/scheduler.js';
import type { AnnouncePeerSession } from '../../protocol/rpc/announce-peer-session.js';
import { SchedulerClient } from '../../protocol/rpc/scheduler-client.js';
import { hostMsg, startFakeDfdaemon, startScheduler, until } from './scheduler-test-kit.js';

const TASK = 'a'.repeat(64);
const download = (over: Partial<Download> = {}): Download => ({
  url: 'http://127.0.0.1:9/file.bin', tag: '', application: '', filteredQueryParams: [], requestHeader: {},
  disableBackToSource: false, needBackToSource: false, options: {}, ...over,
});
const piece = (number: number, parentId?: string): Piece => ({
  number, parentId, offset: number * 4, length: 4, digest: 'crc32:1', trafficType: parentId ? 1 : 0, cost: 5, createdAt: Date.now(),
});

function parentsOf(res: AnnouncePeerResponse | undefined): string[] {
  if (res?.response?.$case !== 'normalTaskResponse') throw new Error(`expected normal_task, got ${res?.response?.$case}`);
  return res.response.value.candidateParents.map((p) => p.id);
}

test('seed peer is triggered once per task and parents flow from the seed to later peers', async (t) => {
  const { client } = await startScheduler(t);
  const dfdaemon = await startFakeDfdaemon(t);
  await client.announceHost(hostMsg('seed-host', { type: HostType.HOST_TYPE_SUPER, rpcPort: dfdaemon.port }));
  await client.announceHost(hostMsg('h1'));
  await client.announceHost(hostMsg('h2'));

  const p1 = client.announcePeer({ hostId: 'h1', taskId: TASK, peerId: 'p1' });
  t.teardown(() => p1.cancel());
  await p1.register(download());
  t.true(await until(() => dfdaemon.calls.length === 1), 'seed DownloadTask called');
  t.is(dfdaemon.calls[0]!.download?.url, 'http://127.0.0.1:9/file.bin');
  t.true(dfdaemon.calls[0]!.download?.needBackToSource);

  const seed = client.announcePeer({ hostId: 'seed-host', taskId: TASK, peerId: 'seed-peer' });
  t.teardown(() => seed.cancel());
  await seed.register(download({ needBackToSource: true }));
  t.is((await seed.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse');
  t.deepEqual(parentsOf(await p1.next({ timeoutMs: 3000 })), ['seed-peer'], 'first peer gets the seed as soon as it exists');

  await seed.backToSourcePieceFinished(piece(0));
  await p1.started();
  await p1.pieceFinished(piece(0, 'seed-peer'));
  t.true(await until(async () => (await client.statPeer(TASK, 'p1')).finishedPieceCount === 1));

  const p2 = client.announcePeer({ hostId: 'h2', taskId: TASK, peerId: 'p2' });
  t.teardown(() => p2.cancel());
  await p2.register(download());
  const first = parentsOf(await p2.next({ timeoutMs: 3000 }));
  t.true(first.includes('p1'), `second peer's candidates ${first} include the first peer`);

  await p2.reschedule(['p1'], 'p1 failed');
  const second = parentsOf(await p2.next({ timeoutMs: 3000 }));
  t.false(second.includes('p1'), 'rescheduling excludes the failed parent');
  t.deepEqual(second, ['seed-peer']);
  t.is(dfdaemon.calls.length, 1, 'seed triggered exactly once for the task');

  const stat = await client.statTask(TASK);
  t.is(stat.peerCount, 3);
  t.true(stat.hasAvailablePeer);
  t.is(stat.state, 'running');
  t.is((await client.statPeer(TASK, 'p1')).state, 'running');

  t.deepEqual((await client.listHosts()).map((h) => h.id), ['h1', 'h2', 'seed-host']);
  const seeds = await client.listHosts(HostType.HOST_TYPE_SUPER);
  t.deepEqual(seeds.map((h) => h.id), ['seed-host']);
  t.true(seeds[0]!.uploadSuccessCount >= 1, 'piece reports credit the parent host');

  t.is(await client.deleteTask(TASK), 3);
  const gone = await client.statTask(TASK).catch((e: unknown) => e);
  t.true(isD7yError(gone, 'D7Y_TASK_NOT_FOUND'), String(gone));
  const ended = await p2.next({ timeoutMs: 3000 }).catch((e: unknown) => e);
  t.true(isD7yError(ended, 'D7Y_NOT_FOUND'), `open stream of a deleted task ends: ${String(ended)}`);

  t.is(await client.deleteHost('h2'), 0);
  t.deepEqual((await client.listHosts()).map((h) => h.id), ['h1', 'seed-host']);
});

test('without a seed peer the first peers go back to the source, within the limit', async (t) => {
  const { client } = await startScheduler(t, { retryLimit: 50 });
  await client.announceHost(hostMsg('shared'));
  await client.announceHost(hostMsg('other'));
  const open = (hostId: string, peerId: string) => {
    const s = client.announcePeer({ hostId, taskId: TASK, peerId });
    t.teardown(() => s.cancel());
    return s;
  };
  const sessions: AnnouncePeerSession[] = [];
  for (let i = 0; i < 4; i++) {
    const s = open('shared', `p${i}`);
    sessions.push(s);
    await s.register(download());
  }
  for (let i = 0; i < 3; i++) {
    t.is((await sessions[i]!.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse', `p${i} goes to the source`);
  }
  const waiting = await sessions[3]!.next({ timeoutMs: 400 }).catch((e: unknown) => e);
  t.true(isD7yError(waiting, 'D7Y_TIMEOUT'), 'the fourth peer waits: the default limit is 3 and its host mates are no parents');

  await sessions[1]!.backToSourceStarted();
  await sessions[1]!.backToSourcePieceFinished(piece(0));
  t.true(await until(async () => (await client.statPeer(TASK, 'p1')).finishedPieceCount === 1));
  const p4 = open('other', 'p4');
  await p4.register(download());
  const parents = parentsOf(await p4.next({ timeoutMs: 3000 }));
  t.is(parents[0], 'p1', 'a peer on another host gets the piece holder first');
  t.deepEqual([...parents].sort(), ['p0', 'p1', 'p2'], 'peers downloading from the source are parents too');
  // p4, now a parent for others too, leaves: the waiting host mate has no parent but the source.
  p4.cancel();
  t.true(await until(async () => !(await client.statPeer(TASK, 'p4').then(() => true, () => false))), 'p4 is forgotten once it leaves');

  await sessions[0]!.backToSourceFinished(4, 1);
  t.is((await sessions[3]!.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse',
    'a freed back-to-source slot goes to the waiting peer');
  t.is((await client.statTask(TASK)).state, 'succeeded');
});

test('peers waiting together for the seed learn of each other in the round that answers them', async (t) => {
  const { client } = await startScheduler(t);
  const dfdaemon = await startFakeDfdaemon(t);
  await client.announceHost(hostMsg('seed-host', { type: HostType.HOST_TYPE_SUPER, rpcPort: dfdaemon.port }));
  const ids = ['p1', 'p2', 'p3', 'p4'];
  const sessions = ids.map((id, i) => {
    const s = client.announcePeer({ hostId: `h${i + 1}`, taskId: TASK, peerId: id });
    t.teardown(() => s.cancel());
    return s;
  });
  for (let i = 0; i < ids.length; i++) await client.announceHost(hostMsg(`h${i + 1}`));
  for (const s of sessions) await s.register(download());
  t.true(await until(() => dfdaemon.calls.length === 1), 'seed DownloadTask called');

  const seed = client.announcePeer({ hostId: 'seed-host', taskId: TASK, peerId: 'seed-peer' });
  t.teardown(() => seed.cancel());
  await seed.register(download({ needBackToSource: true }));
  t.is((await seed.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse');
  // Each peer's answers within the round: its parents, and the peers it is told of as their parent.
  const known = new Map<string, Set<string>>();
  await Promise.all(sessions.map(async (s, i) => {
    const heard = new Set<string>();
    known.set(ids[i]!, heard);
    for (;;) {
      const res = await s.next({ timeoutMs: 300 }).catch(() => undefined);
      if (!res) return;
      for (const p of parentsOf(res)) heard.add(p);
    }
  }));
  for (const [id, heard] of known) {
    t.true(heard.has('seed-peer'), `${id} is given the seed`);
    const others = [...heard].filter((p) => p !== 'seed-peer');
    t.is(others.length, ids.length - 1, `${id} heard of every other waiting peer before holding any piece (${others})`);
  }
});

test('a peer that may not go back to the source fails after the retry limit', async (t) => {
  const { client } = await startScheduler(t, { retryLimit: 3, retryInterval: 20 });
  await client.announceHost(hostMsg('h1'));
  const s = client.announcePeer({ hostId: 'h1', taskId: TASK, peerId: 'p1' });
  t.teardown(() => s.cancel());
  await s.register(download({ disableBackToSource: true }));
  const err = await s.next({ timeoutMs: 3000 }).catch((e: unknown) => e);
  t.true(isD7yError(err, 'D7Y_PEER_UNAVAILABLE'), String(err));
  t.regex((err as Error).message, /after 3 scheduling rounds, and back-to-source is disabled/);
});

test('malformed requests get INVALID_ARGUMENT naming the field, and the scheduler keeps serving', async (t) => {
  const { client } = await startScheduler(t);
  const badIp = await client.announceHost(hostMsg('h1', { ip: 'not-an-ip' })).catch((e: unknown) => e);
  t.true(isD7yError(badIp, 'D7Y_INVALID_ARGUMENT'), String(badIp));
  t.regex((badIp as Error).message, /host\.ip is not an IPv4 or IPv6 address/);
  const badPort = await client.announceHost(hostMsg('h1', { rpcPort: 0 })).catch((e: unknown) => e);
  t.regex((badPort as Error).message, /rpcPort: must be a port/);

  await client.announceHost(hostMsg('h1'));
  const first = client.announcePeer({ hostId: 'h1', taskId: TASK, peerId: 'p1' });
  await first.pieceFinished(piece(0));
  const e1 = await first.next({ timeoutMs: 3000 }).catch((e: unknown) => e);
  t.true(isD7yError(e1, 'D7Y_INVALID_ARGUMENT'));
  t.regex((e1 as Error).message, /first message must be registerPeerRequest/);

  const badUrl = client.announcePeer({ hostId: 'h1', taskId: TASK, peerId: 'p2' });
  await badUrl.register(download({ url: 'not a url' }));
  t.regex(String(await badUrl.next({ timeoutMs: 3000 }).catch((e: unknown) => e)), /download\.url is not a valid URL/);

  const noHost = client.announcePeer({ hostId: 'nobody', taskId: TASK, peerId: 'p3' });
  await noHost.register(download());
  const e3 = await noHost.next({ timeoutMs: 3000 }).catch((e: unknown) => e);
  t.true(isD7yError(e3, 'D7Y_NOT_FOUND'));
  t.regex((e3 as Error).message, /host nobody is not announced/);

  const emptyId = await client.statTask('').catch((e: unknown) => e);
  t.true(isD7yError(emptyId, 'D7Y_INVALID_ARGUMENT'));
  t.regex((emptyId as Error).message, /task_id is empty/);
  t.deepEqual((await client.listHosts()).map((h) => h.id), ['h1']);
});

test('GC removes expired peers, tasks left without peers, and hosts not announced', async (t) => {
  const { client, role } = await startScheduler(t, { gc: { interval: 20, peerTtl: 150, taskTtl: 60_000, hostTtl: 400 } });
  await client.announceHost(hostMsg('h1'));
  const s = client.announcePeer({ hostId: 'h1', taskId: TASK, peerId: 'p1' });
  t.teardown(() => s.cancel());
  await s.register(download({ needBackToSource: true }));
  t.is((await s.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse');
  t.is((await client.statTask(TASK)).peerCount, 1);
  const ended = await s.next({ timeoutMs: 3000 }).catch((e: unknown) => e);
  t.true(isD7yError(ended, 'D7Y_NOT_FOUND'), 'the expired peer is told it was removed');
  t.true(await until(() => !role.resources.tasks.has(TASK)), 'task without peers removed');
  t.true(await until(async () => (await client.listHosts()).length === 0), 'host not announced within its TTL removed');
});

test('the client routes a task to its scheduler and around a dead one', async (t) => {
  const one = await startScheduler(t);
  const two = await startScheduler(t);
  const addresses = [`127.0.0.1:${one.role.port}`, `127.0.0.1:${two.role.port}`];
  t.is(one.role.describe().listen, addresses[0], 'describe() shows the real port');
  const client = new SchedulerClient({ addresses, callTimeoutMs: 3000 });
  t.teardown(() => client.close());
  await client.announceHost(hostMsg('h1'));
  t.is(one.role.resources.hosts.size + two.role.resources.hosts.size, 2, 'hosts are announced to every scheduler');

  const owner = client.addressFor(TASK);
  const ownerRole = owner === addresses[0] ? one.role : two.role;
  const other = owner === addresses[0] ? two.role : one.role;
  const s = client.announcePeer({ hostId: 'h1', taskId: TASK, peerId: 'p1' });
  t.teardown(() => s.cancel());
  await s.register(download({ needBackToSource: true }));
  t.is((await s.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse');
  t.true(ownerRole.resources.tasks.has(TASK));
  t.false(other.resources.tasks.has(TASK));
  t.is((await client.statTask(TASK)).peerCount, 1);

  s.cancel();
  await ownerRole.stop();
  const moved = await client.statTask(TASK).catch((e: unknown) => e);
  t.true(isD7yError(moved, 'D7Y_TASK_NOT_FOUND'), `the next scheduler on the ring answers: ${String(moved)}`);
  t.regex((moved as Error).message, new RegExp(`scheduler 127\\.0\\.0\\.1:${other.port}`));
  const rounds = await one.metrics.getSingleMetricAsString('d7y_scheduler_announce_host_total');
  t.regex(rounds, /d7y_scheduler_announce_host_total 1/);
});
