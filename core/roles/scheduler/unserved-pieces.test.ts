import test from 'ava';
import type { Download } from '../../protocol/rpc/gen/common.js';
import { lacksAnUnservedPiece } from './peer-announcer.js';
import { SchedulerResources } from './resource/scheduler-resources.js';

const download: Download = {
  url: 'http://127.0.0.1/x', tag: '', application: '', filteredQueryParams: [], requestHeader: {},
  disableBackToSource: false, needBackToSource: false, options: {},
};

/** Three normal peers of a 4-piece task whose seed was lost: p0 holds 0 and 1, p1 holds 1, p2 nothing. */
function swarm() {
  const res = new SchedulerResources({ maxHosts: 10, maxTasks: 10, maxPeersPerTask: 10 });
  const task = res.taskFor('t', download, 0);
  task.pieceCount = 4;
  task.seed = 'failed';
  const peers = [0, 1, 2].map((i) => {
    const host = res.upsertHost({
      id: `h${i}`, ip: '127.0.0.1', hostname: `h${i}`, type: 'normal', idc: '', location: '', maxUploadBps: 1e8, uploadBpsLast60s: 0,
      concurrentUploads: 0, uploadLimit: 200, uploadPort: 1, rpcPort: 1, announcedAt: 0, ttl: 1e9,
    });
    const p = res.addPeer(task, host, `p${i}`, download, 0);
    res.setState(task, p, 'running', 0);
    return p;
  });
  for (const [peer, n] of [[0, 0], [0, 1], [1, 1]] as const) res.pieceFinished(task, peers[peer]!, n, undefined, 1, 0);
  return { res, task, peers };
}

test('a peer lacking pieces nobody holds or fetches must go to the source; not while a seed or a source reader will bring them', (t) => {
  const { res, task, peers } = swarm();
  t.true(lacksAnUnservedPiece(task, peers[2]!), 'pieces 2 and 3 are held by nobody');
  task.seed = 'triggered';
  t.false(lacksAnUnservedPiece(task, peers[2]!), 'a seed trigger under way will bring them');
  task.seed = 'none';
  t.false(lacksAnUnservedPiece(task, peers[2]!), 'with no seed lost, the usual scheduling rounds decide (super-seeding spreads pieces one holder each)');
  task.seed = 'failed';
  res.setState(task, peers[1]!, 'back-to-source', 0);
  t.false(lacksAnUnservedPiece(task, peers[2]!), 'a peer reading the origin will bring them');
  res.setState(task, peers[1]!, 'running', 0);
  for (const n of [2, 3]) res.pieceFinished(task, peers[0]!, n, undefined, 1, 0);
  t.false(lacksAnUnservedPiece(task, peers[2]!), 'p0 now holds every piece');
  res.setState(task, peers[0]!, 'failed', 0);
  task.pieceCount = 0;
  t.true(lacksAnUnservedPiece(task, peers[1]!), 'no peer finished (count unknown) and none reads the origin: a stuck peer must');
});
