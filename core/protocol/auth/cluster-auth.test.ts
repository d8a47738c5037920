import test from 'ava';
import { ClusterAuth } from './cluster-auth.js';
import { ReplayGuard } from './replay-guard.js';

const SECRET = 'a-cluster-secret-of-some-length';
const SEED = 'a-seed-secret-of-some-length-too';

test('a proof holds for its own scope and cluster only, and not once it is stale', (t) => {
  let now = 1_700_000_000_000;
  const a = new ClusterAuth(SECRET, undefined, () => now);
  const proof = a.memberProof('/d7y.scheduler.v1.Scheduler/AnnounceHost');
  t.is(a.checkMember(proof, '/d7y.scheduler.v1.Scheduler/AnnounceHost'), undefined);
  t.is(a.checkMember(proof, '/d7y.scheduler.v1.Scheduler/DeleteHost'), 'wrong', 'a proof seen on the wire serves no other call');
  t.is(new ClusterAuth('another-cluster-secret-0123').checkMember(proof, '/d7y.scheduler.v1.Scheduler/AnnounceHost'), 'wrong');
  t.is(a.checkMember(undefined, 'x'), 'missing');
  t.is(a.checkMember('v1.garbage', 'x'), 'malformed');
  t.false(proof.includes(SECRET), 'the secret is not in the proof');
  now += 6 * 60_000;
  t.is(a.checkMember(proof, '/d7y.scheduler.v1.Scheduler/AnnounceHost'), 'stale');
});

test('the seed credential: only a role holding the seed secret makes or checks it; a member proof is not one', (t) => {
  const scheduler = new ClusterAuth(SECRET, SEED);
  const peer = new ClusterAuth(SECRET);
  t.true(scheduler.holdsSeed);
  t.false(peer.holdsSeed);
  t.is(peer.seedProof('m'), undefined);
  t.is(scheduler.checkSeed(scheduler.seedProof('m'), 'm'), undefined);
  t.is(scheduler.checkSeed(peer.memberProof('m'), 'm'), 'wrong');
  t.is(peer.checkMember(scheduler.memberProof('m'), 'm'), undefined, 'every role shares the membership key');
});

test('a Vortex challenge is answered only with the cluster key', (t) => {
  const nonce = Buffer.alloc(32, 7);
  const a = new ClusterAuth(SECRET);
  t.true(a.checkVortex(nonce, new ClusterAuth(SECRET, SEED).vortexProof(nonce)));
  t.false(a.checkVortex(nonce, new ClusterAuth('another-cluster-secret-0123').vortexProof(nonce)));
  t.false(a.checkVortex(Buffer.alloc(32, 8), a.vortexProof(nonce)), 'an answer to another challenge is refused');
});

test('a server accepts each proof once: the same proof sent again is refused as a replay, a fresh one still holds', (t) => {
  const server = new ClusterAuth(SECRET);
  const client = new ClusterAuth(SECRET);
  const proof = client.memberProof('/d7y.dfdaemon.v1.DfdaemonUpload/DeleteTask');
  t.is(server.checkMember(proof, '/d7y.dfdaemon.v1.DfdaemonUpload/DeleteTask'), undefined);
  t.is(server.checkMember(proof, '/d7y.dfdaemon.v1.DfdaemonUpload/DeleteTask'), 'replayed');
  t.is(server.checkMember(client.memberProof('/d7y.dfdaemon.v1.DfdaemonUpload/DeleteTask'), '/d7y.dfdaemon.v1.DfdaemonUpload/DeleteTask'), undefined);
  const seedServer = new ClusterAuth(SECRET, SEED);
  const seedProof = new ClusterAuth(SECRET, SEED).seedProof('m');
  t.is(seedServer.checkSeed(seedProof, 'm'), undefined);
  t.is(seedServer.checkSeed(seedProof, 'm'), 'replayed');
});

test('the replay memory stays bounded: past its size the oldest proofs are forgotten and refused as too old, never accepted twice', (t) => {
  const guard = new ReplayGuard(600_000, 1_000);
  const now = 1_700_000_000_000;
  for (let i = 0; i < 5_000; i++) t.true(guard.accept(`k${i}`, now + i, now + i));
  t.true(guard.size <= 1_000, `${guard.size} proofs remembered`);
  t.false(guard.accept('k0', now, now + 5_000), 'a forgotten proof is refused as too old');
  t.false(guard.accept('k4999', now + 4_999, now + 5_000), 'a remembered proof is refused as seen');
  t.true(guard.accept('k5000', now + 5_000, now + 5_000));
});
