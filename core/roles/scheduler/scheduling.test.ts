import { performance } from 'node:perf_hooks';
import test from 'ava';
import type { CandidateParent, EvaluationContext, Evaluator } from '../../contracts/evaluator.js';
import type { Download } from '../../protocol/rpc/gen/common.js';
import type { HostRecord } from './resource/records.js';
import { SchedulerResources } from './resource/scheduler-resources.js';
import { PiecesEvaluator } from './scheduler-test-kit.js';
import { Scheduling } from './scheduling.js';

/** Costs like a load-aware evaluator: a score per candidate from host figures, then a sort. */
class LoadEvaluator implements Evaluator {
  readonly name = 'load';
  rank(cs: readonly CandidateParent[], ctx: EvaluationContext): CandidateParent[] {
    const childLoc = (ctx.child.host.location ?? '').split('|');
    const score = (c: CandidateParent) => {
      const h = c.host;
      const load = 0.5 * (1 - h.uploadBpsLast60s / h.maxUploadBps) + 0.3 * (1 - h.uploadBpsLast60s / h.maxUploadBps)
        + 0.2 * (1 - h.concurrentUploads / h.uploadLimit);
      const loc = (h.location ?? '').split('|').filter((x, i) => x === childLoc[i]).length / 5;
      return 0.6 * load + 0.2 * (h.idc === ctx.child.host.idc ? 1 : 0) + 0.1 * loc + 0.1 * (h.type === 'super' ? 1 : 0.5);
    };
    return cs.map((c) => ({ c, s: score(c) })).sort((a, b) => b.s - a.s || (a.c.peerId < b.c.peerId ? -1 : 1)).map((x) => x.c);
  }
  isBadParent(c: CandidateParent): boolean {
    const n = c.pieceCostsMs.length;
    if (n < 2) return false;
    const mean = c.pieceCostsMs.slice(0, -1).reduce((a, b) => a + b, 0) / (n - 1);
    return c.pieceCostsMs[n - 1]! > 20 * mean;
  }
}

const download: Download = {
  url: 'http://127.0.0.1/x', tag: '', application: '', filteredQueryParams: [], requestHeader: {},
  disableBackToSource: false, needBackToSource: false, options: {},
};

function world(peers: number) {
  const res = new SchedulerResources({ maxHosts: 100_000, maxTasks: 10, maxPeersPerTask: 100_000 });
  const task = res.taskFor('t', download, 0);
  const hosts: HostRecord[] = [];
  for (let i = 0; i < peers; i++) {
    hosts.push(res.upsertHost({
      id: `h${i}`, ip: '127.0.0.1', hostname: `h${i}`, type: i === 0 ? 'super' : 'normal', idc: `idc${i % 3}`,
      location: `cn|r${i % 4}|z${i % 7}`, maxUploadBps: 1e8, uploadBpsLast60s: (i * 7919) % 1e8, concurrentUploads: i % 50,
      uploadLimit: 200, uploadPort: 1, rpcPort: 1, announcedAt: 0, ttl: 1e9,
    }));
    const p = res.addPeer(task, hosts[i]!, `p${i}`, download, 0);
    if (i % 2 === 0) {
      res.setState(task, p, 'succeeded', 0);
      res.pieceFinished(task, p, 0, undefined, 1, 0);
    }
  }
  return { res, task };
}

test('a round filters blocked, same-host and bad parents, and lets two peers serve each other', (t) => {
  const { res, task } = world(6);
  const scheduling = new Scheduling({ candidateParentLimit: 4, filterParentLimit: 40 }, () => new PiecesEvaluator());
  const child = task.peers.get('p1')!;
  res.setState(task, child, 'running', 0);
  res.block(task, child, 'p2');
  const sameHost = res.addPeer(task, child.host, 'p1-twin', download, 0);
  res.setState(task, sameHost, 'succeeded', 0);
  task.peers.get('p4')!.pieceCostsMs.push(10, 5000);
  task.graph.addEdges(['p1'], 'p0');
  t.deepEqual(scheduling.findParents(task, child).map((p) => p.id), ['p0'],
    'p0 though p1 is its parent; p2 blocked, p4 bad, p1-twin same host, odd peers pending');
  t.true(task.graph.parentsOf('p1').has('p0'), 'the chosen edge is in the graph');
  t.true(task.graph.parentsOf('p0').has('p1'), 'the opposite edge stays');
});

test('a parent that failed a child is offered to it again once it holds more pieces, one that failed holding every piece never', (t) => {
  const { res, task } = world(4);
  const scheduling = new Scheduling({ candidateParentLimit: 4, filterParentLimit: 40 }, () => new PiecesEvaluator());
  const [child, relay] = [task.peers.get('p1')!, task.peers.get('p3')!];
  res.setState(task, child, 'running', 0);
  res.setState(task, relay, 'running', 0);
  res.pieceFinished(task, relay, 0, undefined, 1, 0);
  res.pieceFailed(task, child, 'p3', 0);
  res.pieceFailed(task, child, 'p2', 0);
  t.deepEqual(scheduling.findParents(task, child).map((p) => p.id), ['p0'], 'both parents that failed are left out');
  res.pieceFinished(task, relay, 1, undefined, 1, 0);
  t.deepEqual(scheduling.findParents(task, child).map((p) => p.id).sort(), ['p0', 'p3'],
    'p3 finished a piece since it failed the child: offered again; p2 (succeeded, nothing more to gain) stays out');
});

test('round latency for a task with 1,000 peers', (t) => {
  const { res, task } = world(1000);
  const measure = (filterParentLimit: number, rounds: number) => {
    const scheduling = new Scheduling({ candidateParentLimit: 4, filterParentLimit }, () => new LoadEvaluator());
    const samples: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const child = task.peers.get(`p${1 + 2 * (r % 500)}`)!;
      if (child.state === 'pending') res.setState(task, child, 'running', 0);
      const t0 = performance.now();
      const parents = scheduling.findParents(task, child);
      samples.push(performance.now() - t0);
      t.true(parents.length >= 1 && parents.length <= 4);
    }
    samples.sort((a, b) => a - b);
    return { p50: samples[Math.floor(samples.length * 0.5)]!, p99: samples[Math.floor(samples.length * 0.99)]! };
  };
  const sampled = measure(40, 2000);
  const full = measure(1000, 200);
  t.log(`1,000 peers, sample 40: p50 ${(sampled.p50 * 1000).toFixed(0)} µs, p99 ${(sampled.p99 * 1000).toFixed(0)} µs`);
  t.log(`1,000 peers, sample all: p50 ${(full.p50 * 1000).toFixed(0)} µs, p99 ${(full.p99 * 1000).toFixed(0)} µs`);
  t.true(sampled.p50 < 5, `median round ${sampled.p50} ms: a round costs the sample, not the task size`);
});

test('successive rounds offer parents the child has not been offered yet, then the best known ones', (t) => {
  const { res, task } = world(12);
  const scheduling = new Scheduling({ candidateParentLimit: 2, filterParentLimit: 40 }, () => new PiecesEvaluator());
  const child = task.peers.get('p1')!;
  res.setState(task, child, 'running', 0);
  const rounds = [0, 1, 2, 3].map(() => scheduling.findParents(task, child).map((p) => p.id));
  const firstThree = rounds.slice(0, 3).flat();
  t.is(new Set(firstThree).size, 6, `three rounds of two: six different parents (${JSON.stringify(rounds)})`);
  t.deepEqual([...firstThree].sort(), ['p0', 'p10', 'p2', 'p4', 'p6', 'p8'], 'every available peer once');
  t.is(rounds[3]!.length, 2, 'with no new parent left, the best known ones again');
});

test('a parent still downloading hears of its new child once; seeds, finished peers and the same host do not', (t) => {
  const { res, task } = world(6);
  const scheduling = new Scheduling({ candidateParentLimit: 4, filterParentLimit: 40 }, () => new PiecesEvaluator());
  const channel = { normalTask: () => undefined, needBackToSource: () => undefined, pieceDigests: () => undefined, fail: () => undefined };
  const child = task.peers.get('p1')!;
  const downloading = task.peers.get('p2')!;
  res.setState(task, downloading, 'running', 0);
  for (const p of task.peers.values()) p.channel = channel;
  const parents = ['p0', 'p2', 'p4'].map((id) => task.peers.get(id)!);
  t.deepEqual(scheduling.introductions(task, child, parents).map((p) => p.id), ['p2'], 'p0 is the seed, p4 has finished');
  t.true(task.graph.parentsOf('p2').has('p1'), 'the child is now a parent of its parent');
  t.deepEqual(scheduling.introductions(task, child, parents), [], 'only once');
});
