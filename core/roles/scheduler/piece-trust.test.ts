import test from 'ava';
import { Registry } from 'prom-client';
import { silentLogger } from '../../logging/logger.js';
import type { Download } from '../../protocol/rpc/gen/common.js';
import { contentDigest } from '../../task/content-hash.js';
import { PieceTrust } from './piece-trust.js';
import type { HostRecord, PeerChannel } from './resource/records.js';
import { SchedulerResources } from './resource/scheduler-resources.js';
import { SchedulerMetrics } from './scheduler-metrics.js';

const download: Download = {
  url: 'http://127.0.0.1/x', tag: '', application: '', filteredQueryParams: [], requestHeader: {},
  disableBackToSource: false, needBackToSource: false, options: {},
};
const good = contentDigest(Buffer.from('the origin bytes'));
const forged = contentDigest(Buffer.from('a poisoner bytes'));

/** A task with a seed host `seed`, a normal host `liar` that read the origin, and a downloading child recording what it is sent. */
function world(seedLive: boolean) {
  const res = new SchedulerResources({ maxHosts: 100, maxTasks: 10, maxPeersPerTask: 100 });
  const task = res.taskFor('t', download, 0);
  const host = (id: string, type: 'super' | 'normal'): HostRecord => res.upsertHost({
    id, ip: '127.0.0.1', hostname: id, type, idc: '', location: '', maxUploadBps: 1e8, uploadBpsLast60s: 0, concurrentUploads: 0,
    uploadLimit: 200, uploadPort: 1, rpcPort: 1, announcedAt: 0, ttl: 1e9,
  });
  const [seed, liar, childHost] = [host('seed', 'super'), host('liar', 'normal'), host('child', 'normal')];
  const liarPeer = res.addPeer(task, liar, 'liar-peer', download, 0);
  res.setState(task, liarPeer, 'succeeded', 0);
  const child = res.addPeer(task, childHost, 'child-peer', download, 0);
  res.setState(task, child, 'running', 0);
  const sent: { number: number; digest: string }[][] = [];
  const channel: PeerChannel = { normalTask: () => undefined, needBackToSource: () => undefined, fail: () => undefined, pieceDigests: (p) => sent.push(p) };
  child.channel = channel;
  const metrics = new SchedulerMetrics(new Registry());
  const trust = new PieceTrust(res, () => seedLive, metrics, silentLogger());
  return { res, task, seed, liar, child, liarPeer, sent, trust, metrics };
}

test('with a live seed, only the seed\'s digests are trusted and sent to children', (t) => {
  const { task, seed, liar, sent, trust } = world(true);
  trust.record(task, liar, [{ number: 0, digest: forged }]);
  t.deepEqual(sent, [], 'a normal peer\'s digest is ignored while a seed is live');
  trust.record(task, seed, [{ number: 0, digest: good }, { number: 1, digest: 'crc32:12345' }]);
  t.deepEqual(sent, [[{ number: 0, digest: good }]], 'the seed\'s digest goes to the child; a crc32 is never trusted');
  t.true(trust.hasSeedDigests(task));
});

test('without a seed the first peer that read the origin is trusted, and a seed that comes later replaces it', (t) => {
  const { task, seed, liar, sent, trust } = world(false);
  trust.record(task, liar, [{ number: 0, digest: forged }]);
  trust.record(task, liar, [{ number: 0, digest: good }]);
  t.deepEqual(sent, [[{ number: 0, digest: forged }]], 'the first digest of a piece stays');
  t.false(trust.hasSeedDigests(task));
  trust.record(task, seed, [{ number: 0, digest: good }]);
  t.is(task.trust.digests.get(0)?.digest, good);
  t.is(task.trust.from, 'seed');
});

test('a parent reported corrupt is blocked for the task: never available again, its digests forgotten, counted once', async (t) => {
  const { res, task, liar, child, liarPeer, trust, metrics } = world(false);
  trust.record(task, liar, [{ number: 0, digest: forged }]);
  t.true(task.available.has(liarPeer.id));
  trust.corrupt(task, child, liarPeer.id, 0);
  trust.corrupt(task, child, liarPeer.id, 1);
  t.false(task.available.has(liarPeer.id), 'the blocked parent is not offered any more');
  t.is(task.trust.digests.size, 0, 'the digests it reported are forgotten');
  res.setState(task, liarPeer, 'succeeded', 1);
  t.false(task.available.has(liarPeer.id), 'it stays out after a new state');
  trust.record(task, liar, [{ number: 0, digest: forged }]);
  t.is(task.trust.digests.size, 0, 'a blocked host is not trusted again');
  const blocked = (await metrics.blockedParents.get()).values[0]?.value;
  const corrupt = (await metrics.corruptPieces.get()).values[0]?.value;
  t.deepEqual({ blocked, corrupt }, { blocked: 1, corrupt: 2 });
});
