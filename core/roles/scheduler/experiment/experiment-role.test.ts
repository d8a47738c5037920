import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootContainer } from '../../../di.js';
import type { CandidateParent, Evaluator } from '../../../contracts/evaluator.js';
import { NodeConfigSchema } from '../../../config/node-config.js';
import { silentLogger } from '../../../logging/logger.js';
import { createMetricsRegistry } from '../../../metrics/metrics.js';
import { SchedulerClient } from '../../../protocol/rpc/scheduler-client.js';
import { EvaluatorRegistry } from '../../../registry/evaluator-registry.js';
import { Tokens } from '../../../tokens.js';
import { hostMsg, until } from '../scheduler-test-kit.js';
import { SchedulerRole } from '../scheduler-role.js';
import { SchedulingPolicyToken } from '../scheduling-policy-token.js';
import type { SchedulingPolicy } from '../scheduling-policy.js';
import { ExperimentArms } from './experiment-arms.js';
import { JsonLinesOutcomeStore } from './experiment-outcome-store.js';

class CountingEvaluator implements Evaluator {
  rounds = 0;
  constructor(readonly name: string) {}
  rank(candidates: readonly CandidateParent[]): CandidateParent[] {
    this.rounds++;
    return [...candidates].sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  }
  isBadParent(): boolean {
    return false;
  }
}

const download = (url: string, needBackToSource: boolean) => ({
  url, tag: '', application: '', filteredQueryParams: [], requestHeader: {}, disableBackToSource: false, needBackToSource, options: {},
});

test('the scheduler ranks each download with its arm\'s evaluator and records the peer\'s outcome', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'd7y-exp-role-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const policy: SchedulingPolicy = { evaluator: 'a', experiment: { id: 'split', bucketBy: 'task', variants: [
    { name: 'arm-a', evaluator: 'a', weight: 50 }, { name: 'arm-b', evaluator: 'b', weight: 50 },
  ] } };
  const a = new CountingEvaluator('a');
  const b = new CountingEvaluator('b');
  const evaluators = new EvaluatorRegistry();
  evaluators.add(a, 'test');
  evaluators.add(b, 'test');
  const container = rootContainer.createChildContainer();
  container.register(Tokens.Config, { useValue: NodeConfigSchema.parse({ dataDir, scheduler: { listen: { host: '127.0.0.1', port: 0 }, metrics: { listen: { port: 0 } } } }) });
  container.register(Tokens.Logger, { useValue: silentLogger() });
  container.register(Tokens.Metrics, { useValue: createMetricsRegistry() });
  container.register(Tokens.EvaluatorRegistry, { useValue: evaluators });
  container.register(SchedulingPolicyToken, { useValue: policy });
  const role = container.resolve(SchedulerRole);
  await role.start();
  const client = new SchedulerClient({ addresses: [`127.0.0.1:${role.port}`] });
  t.teardown(async () => { client.close(); await role.stop(); });

  const arms = new ExperimentArms(policy.experiment!);
  const taskB = Array.from({ length: 50 }, (_, i) => i.toString(16).padStart(64, '0')).find((id) => arms.armFor(id, '').name === 'arm-b')!;
  await client.announceHost(hostMsg('h-parent'));
  await client.announceHost(hostMsg('h-child'));
  const parent = client.announcePeer({ hostId: 'h-parent', taskId: taskB, peerId: 'p-parent' });
  await parent.register(download('http://x/b', true));
  t.is((await parent.next({ timeoutMs: 5000 }))?.response?.$case, 'needBackToSourceResponse');
  await parent.backToSourcePieceFinished({ number: 0, parentId: '', offset: 0, length: 10, digest: 'crc32:1', trafficType: 0, cost: 1, createdAt: 0 });
  const child = client.announcePeer({ hostId: 'h-child', taskId: taskB, peerId: 'p-child' });
  await child.register(download('http://x/b', false));
  const answer = await child.next({ timeoutMs: 5000 });
  t.is(answer?.response?.$case, 'normalTaskResponse');
  t.true(b.rounds > 0, 'arm-b\'s evaluator ranked the round');
  t.is(a.rounds, 0, 'the other arm\'s evaluator was not used');

  await child.finished(10, 1, { durationMs: 400, peerBytes: 8, sourceBytes: 2, pieceFailures: 3, reschedules: 1, backToSource: true, schedulerFailovers: 1 });
  const store = new JsonLinesOutcomeStore(dataDir);
  t.true(await until(async () => (await store.list('split').catch(() => [])).length === 1, 5000), 'one outcome recorded');
  const [o] = await store.list('split');
  t.like(o, {
    arm: 'arm-b', armIndex: 1, evaluator: 'b', bucket: taskB, taskId: taskB, peerId: 'p-child', succeeded: true, durationMs: 400, contentLength: 10,
    bytesPerSecond: 25, peerShare: 0.8, pieceFailures: 3, reschedules: 1, backToSource: true, schedulerFailovers: 1, measuredBy: 'peer',
  });
  child.end();
  parent.end();
});
