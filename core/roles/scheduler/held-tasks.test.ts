import test from 'ava';
import { isD7yError } from '../../errors/d7y-error.js';
import type { Download } from '../../protocol/rpc/gen/common.js';
import type { HeldTask } from '../../protocol/rpc/gen/scheduler.js';
import { hostMsg, startScheduler } from './scheduler-test-kit.js';

const TASK = 'b'.repeat(64);
const download: Download = {
  url: 'http://127.0.0.1:9/held.bin', tag: '', application: '', filteredQueryParams: [], requestHeader: {},
  disableBackToSource: false, needBackToSource: false, options: {},
};
const held = (taskId: string, peerId = 'holder-held'): HeldTask => ({
  taskId, peerId, download, contentLength: 10, pieceLength: 4, pieceCount: 3, pieceDigests: [],
});

test('AnnounceHost says which schedulers did not know the host', async (t) => {
  const { client } = await startScheduler(t);
  const [address] = client.addresses;
  t.deepEqual(await client.announceHost(hostMsg('h1')), [address]);
  t.deepEqual(await client.announceHost(hostMsg('h1')), []);
  await client.deleteHost('h1');
  t.deepEqual(await client.announceHost(hostMsg('h1')), [address], 'a host the scheduler forgot is new again');
});

test('a held task makes its host a parent at once for a peer waiting for the task', async (t) => {
  const { client } = await startScheduler(t);
  const [address] = client.addresses;
  await client.announceHost(hostMsg('holder'));
  await client.announceHost(hostMsg('child'));
  const child = client.announcePeer({ hostId: 'child', taskId: TASK, peerId: 'child-peer' });
  t.teardown(() => child.cancel());
  await child.register({ ...download, disableBackToSource: true });

  t.is(await client.announceHeldTasks(address!, 'holder', [held(TASK)]), 1);
  const res = await child.next({ timeoutMs: 3000 });
  t.is(res?.response?.$case, 'normalTaskResponse');
  if (res?.response?.$case === 'normalTaskResponse') t.deepEqual(res.response.value.candidateParents.map((p) => p.id), ['holder-held']);
  const peer = await client.statPeer(TASK, 'holder-held');
  t.is(peer.state, 'succeeded');
  t.is(peer.finishedPieceCount, 3);
  const task = await client.statTask(TASK);
  t.is(task.contentLength, 10);
  t.is(task.pieceCount, 3);

  t.is(await client.announceHeldTasks(address!, 'holder', [held(TASK)]), 1);
  t.is((await client.statTask(TASK)).peerCount, 2, 'announcing again refreshes the copy, it does not add one');
  t.is(await client.deleteHost('holder'), 1, 'the held copy leaves with its host');
});

test('AnnounceHeldTasks refuses an unknown host and oversized batches, and counts what the limits refuse', async (t) => {
  const { client } = await startScheduler(t, { limits: { maxTasks: 2 } });
  const [address] = client.addresses;
  const unknown = await client.announceHeldTasks(address!, 'nobody', [held(TASK)]).catch((e: unknown) => e);
  t.true(isD7yError(unknown, 'D7Y_NOT_FOUND'), String(unknown));
  t.regex(String((unknown as Error).message), /host nobody is not announced/);

  await client.announceHost(hostMsg('holder'));
  const many = Array.from({ length: 1001 }, (_, i) => held(i.toString(16).padStart(64, '0')));
  const tooMany = await client.announceHeldTasks(address!, 'holder', many).catch((e: unknown) => e);
  t.true(isD7yError(tooMany, 'D7Y_INVALID_ARGUMENT'), String(tooMany));
  t.regex(String((tooMany as Error).message), /at most 1000 tasks per call/);

  t.is(await client.announceHeldTasks(address!, 'holder', many.slice(0, 3)), 2, 'the third task is over maxTasks');
});
