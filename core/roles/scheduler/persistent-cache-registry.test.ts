import test from 'ava';
import { isD7yError } from '../../errors/d7y-error.js';
import { PersistentCacheRegistry, type CacheTaskFacts } from './persistent-cache-registry.js';
import type { HostRecord } from './resource/records.js';

const T0 = 1_000_000;
const MIB = 1024 * 1024;

function host(id: string, o: Partial<HostRecord> = {}): HostRecord {
  return {
    id, ip: '127.0.0.1', hostname: id, type: 'normal', maxUploadBps: 100 * MIB, uploadBpsLast60s: 0, concurrentUploads: 0, uploadLimit: 200,
    uploadSuccessCount: 0, uploadFailedCount: 0, uploadPort: 1, rpcPort: 2, announcedAt: T0, ttl: 90_000, peers: new Set(), ...o,
  };
}

function facts(o: Partial<CacheTaskFacts> = {}): CacheTaskFacts {
  return {
    id: 'a'.repeat(64), name: '', persistentReplicaCount: 3, tag: '', application: '', pieceLength: MIB, contentLength: 10 * MIB, pieceCount: 10,
    digest: 'sha256:x', state: 'succeeded', ttl: 3_600_000, createdAt: T0, updatedAt: T0, ...o,
  };
}

function setup(hosts: HostRecord[]) {
  const r = new PersistentCacheRegistry({ holderTtl: 3_000, placementTimeout: 60_000, maxTasks: 10 });
  const byId = new Map(hosts.map((h) => [h.id, h]));
  const tick = (now: number) => r.tick(now, (id) => byId.get(id), byId.values());
  return { r, byId, tick };
}

test('replicas go to the hosts with the most free disk and idle upload bandwidth, never to one without room', (t) => {
  const { r, tick } = setup([host('a'), host('roomy', { maxUploadBps: 100 * MIB }), host('busy', { uploadBpsLast60s: 95 * MIB }), host('full'), host('mid')]);
  for (const [id, free] of [['a', 100], ['roomy', 900], ['busy', 900], ['full', 5], ['mid', 500]] as const) r.announce(id, free * MIB, [], [], T0);
  r.finished('a', facts(), T0, () => undefined);
  const { placements } = tick(T0 + 100);
  t.deepEqual(placements.map((p) => p.host.id), ['roomy', 'mid']);
  t.deepEqual(tick(T0 + 200).placements, [], 'placements under way are not made twice');
});

test('a holder that leaves is replaced, a copy left by an export is promoted first, and a refusing host is passed over', (t) => {
  const { r, byId, tick } = setup([host('a'), host('b'), host('c'), host('d')]);
  for (const id of ['a', 'b', 'c', 'd']) r.announce(id, 900 * MIB, [], [], T0);
  r.finished('a', facts({ persistentReplicaCount: 2 }), T0, () => undefined);
  r.announce('d', 900 * MIB, [{ task: facts(), persistent: false }], [], T0 + 10);
  t.deepEqual(tick(T0 + 20).placements.map((p) => p.host.id), ['d'], 'the export copy on d is promoted before any fetch');
  r.holds('a'.repeat(64), 'd', T0 + 30);
  t.is(r.stat('a'.repeat(64), (id) => byId.get(id)).currentPersistentReplicaCount, 2);

  byId.delete('a');
  const left = r.stat('a'.repeat(64), (id) => byId.get(id));
  t.is(left.currentPersistentReplicaCount, 1, 'a holder whose host left is not counted, even before the next check');
  t.deepEqual(left.holders.map((h) => h.host!.id), ['d']);
  for (const id of ['b', 'c']) r.announce(id, 900 * MIB, [], [], T0 + 5_900);
  r.announce('d', 900 * MIB, [{ task: facts(), persistent: true }], [], T0 + 5_900);
  const { placements } = tick(T0 + 6_000);
  t.is(placements.length, 1);
  const chosen = placements[0]!.host.id;
  r.refused('a'.repeat(64), chosen, T0 + 6_100);
  for (const id of ['b', 'c']) r.announce(id, 900 * MIB, [], [], T0 + 6_150);
  r.announce('d', 900 * MIB, [{ task: facts(), persistent: true }], [], T0 + 6_150);
  const next = tick(T0 + 6_200).placements.map((p) => p.host.id);
  t.is(next.length, 1);
  t.not(next[0], chosen, 'a host that refused is not asked again at once');
});

test('a host that refused a replica while exporting the same task is promoted once it announces the copy', (t) => {
  const { r, byId, tick } = setup([host('a'), host('b'), host('c'), host('d')]);
  for (const id of ['a', 'b', 'c', 'd']) r.announce(id, 900 * MIB, [], [], T0);
  r.finished('a', facts(), T0, () => undefined);
  const first = tick(T0 + 10).placements.map((p) => p.host.id).sort();
  t.is(first.length, 2);
  for (const id of first) r.holds('a'.repeat(64), id, T0 + 20);
  const spare = ['b', 'c', 'd'].find((id) => !first.includes(id))!;

  // a leaves while the spare host exports the task; the replica placed on it collides with the export and is refused.
  byId.delete('a');
  for (const id of first) r.announce(id, 900 * MIB, [{ task: facts(), persistent: true }], [], T0 + 5_900);
  r.announce(spare, 900 * MIB, [], [], T0 + 5_900);
  t.deepEqual(tick(T0 + 6_000).placements.map((p) => p.host.id), [spare]);
  r.refused('a'.repeat(64), spare, T0 + 6_100);
  t.deepEqual(tick(T0 + 6_200).placements, [], 'the host that refused is passed over while it holds nothing');

  // The export ends: its copy is announced, and the next check promotes it instead of waiting out the refusal.
  r.announce(spare, 900 * MIB, [{ task: facts(), persistent: false }], [], T0 + 6_500);
  t.deepEqual(tick(T0 + 6_600).placements.map((p) => p.host.id), [spare], 'the export copy is promoted at the next check');
  r.holds('a'.repeat(64), spare, T0 + 6_700);
  t.is(r.stat('a'.repeat(64), (id) => byId.get(id)).currentPersistentReplicaCount, 3);
});

test('a host that accepted a replica while exporting the same task, and then holds the copy unpinned, is asked again to pin it', (t) => {
  const { r, byId, tick } = setup([host('a'), host('b'), host('c'), host('d')]);
  for (const id of ['a', 'b', 'c', 'd']) r.announce(id, 900 * MIB, [], [], T0);
  r.finished('a', facts(), T0, () => undefined);
  const first = tick(T0 + 10).placements.map((p) => p.host.id).sort();
  for (const id of first) r.holds('a'.repeat(64), id, T0 + 20);
  const spare = ['b', 'c', 'd'].find((id) => !first.includes(id))!;

  // a leaves while the spare host exports the task; the spare accepts the placement (its export is fetching).
  byId.delete('a');
  for (const id of first) r.announce(id, 900 * MIB, [{ task: facts(), persistent: true }], [], T0 + 5_900);
  r.announce(spare, 900 * MIB, [], ['a'.repeat(64)], T0 + 5_900);
  t.deepEqual(tick(T0 + 6_000).placements.map((p) => p.host.id), [spare]);

  // The export ends unpinned: while the placement is fresh nothing more is asked, after that it is asked again.
  r.announce(spare, 900 * MIB, [{ task: facts(), persistent: false }], [], T0 + 6_500);
  t.deepEqual(tick(T0 + 6_600).placements, [], 'a fresh placement is not made twice');
  for (const id of first) r.announce(id, 900 * MIB, [{ task: facts(), persistent: true }], [], T0 + 11_500);
  r.announce(spare, 900 * MIB, [{ task: facts(), persistent: false }], [], T0 + 11_500);
  t.deepEqual(tick(T0 + 11_600).placements.map((p) => p.host.id), [spare], 'the unpinned copy is promoted');
  r.announce(spare, 900 * MIB, [{ task: facts(), persistent: true }], [], T0 + 12_000);
  t.is(r.stat('a'.repeat(64), (id) => byId.get(id)).currentPersistentReplicaCount, 3);
});

test('at the TTL the task is forgotten, its holders listed for deletion, and the id reads as expired; a deleted id reads as deleted', (t) => {
  const { r, byId, tick } = setup([host('a')]);
  r.announce('a', 900 * MIB, [], [], T0);
  r.finished('a', facts({ ttl: 5_000 }), T0, () => undefined);
  const { expired } = tick(T0 + 5_000);
  t.deepEqual(expired, [{ taskId: 'a'.repeat(64), holders: ['a'] }]);
  const err = t.throws(() => r.stat('a'.repeat(64), (id) => byId.get(id)));
  t.true(isD7yError(err, 'D7Y_TASK_NOT_FOUND'));
  t.regex(err!.message, /has expired/);
  t.deepEqual(r.announce('a', 900 * MIB, [{ task: facts({ ttl: 5_000 }), persistent: true }], [], T0 + 5_100), ['a'.repeat(64)], 'a late holder is told to drop its copy');

  r.finished('a', facts({ id: 'b'.repeat(64) }), T0, () => undefined);
  t.deepEqual(r.delete('b'.repeat(64), T0 + 1), ['a']);
  t.regex(t.throws(() => r.stat('b'.repeat(64), () => undefined))!.message, /was deleted/);
  t.regex(t.throws(() => r.stat('c'.repeat(64), () => undefined))!.message, /no persistent cache task c+ in the cluster/);
});

test('a scheduler that restarted learns the tasks again from the holders\' announces', (t) => {
  const { r, byId } = setup([host('a'), host('b')]);
  r.announce('a', MIB, [{ task: facts(), persistent: true }], [], T0 + 1);
  r.announce('b', MIB, [{ task: facts(), persistent: true }], [], T0 + 2);
  const v = r.stat('a'.repeat(64), (id) => byId.get(id));
  t.is(v.currentPersistentReplicaCount, 2);
  t.deepEqual(v.holders.map((h) => h.host!.id).sort(), ['a', 'b']);
});

test('a replica whose fetch failed on its host (a copy that did not match its digest) is placed on another host, and the failing host is passed over', (t) => {
  const { r, byId, tick } = setup([host('a'), host('b'), host('c')]);
  for (const [id, free] of [['a', 100], ['b', 900], ['c', 500]] as const) r.announce(id, free * MIB, [], [], T0);
  r.finished('a', facts({ persistentReplicaCount: 2 }), T0, () => undefined);
  t.deepEqual(tick(T0 + 100).placements.map((p) => p.host.id), ['b']);
  t.is(r.failed('a'.repeat(64), 'b', T0 + 200), 'replica', 'a failed replica, not a failed import');
  t.deepEqual(tick(T0 + 300).placements.map((p) => p.host.id), ['c'], 'placed elsewhere at the next check');
  t.is(r.failed('a'.repeat(64), 'c', T0 + 400), 'replica');
  t.deepEqual(tick(T0 + 500).placements, [], 'both failing hosts are passed over for a while');
  t.is(r.failed('a'.repeat(64), 'a', T0 + 600), undefined, 'a holder\'s report changes nothing');
  t.is(r.stat('a'.repeat(64), (id) => byId.get(id)).currentPersistentReplicaCount, 1, 'the task is kept with its one good copy');
});
