import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../../test/support/run-cli.js';
import { ExperimentArms } from './experiment-arms.js';
import type { ExperimentOutcome } from './experiment-outcome.js';
import { JsonLinesOutcomeStore } from './experiment-outcome-store.js';
import { experimentReport, welchTTest } from './experiment-report.js';

const config = {
  id: 'exp-1', bucketBy: 'task' as const,
  variants: [{ name: 'control', evaluator: 'default', weight: 70 }, { name: 'treatment', evaluator: 'throughput', weight: 30 }],
};

function outcome(arm: string, durationMs: number, over: Partial<ExperimentOutcome> = {}): ExperimentOutcome {
  const contentLength = 64 * 1024 * 1024;
  return {
    experimentId: 'exp-1', arm, armIndex: arm === 'control' ? 0 : 1, evaluator: arm === 'control' ? 'default' : 'throughput',
    bucket: `task-${durationMs}`, taskId: 't', hostId: 'h', peerId: 'p',
    succeeded: true, recordedAt: new Date(0).toISOString(), durationMs, contentLength, bytesPerSecond: (contentLength * 1000) / durationMs,
    peerBytes: contentLength, sourceBytes: 0, peerShare: 1, pieceFailures: 0, reschedules: 0, backToSource: false,
    schedulerFailovers: 0, measuredBy: 'peer', ...over,
  };
}

test('arms are stable per key and split keys by the weights', (t) => {
  const arms = new ExperimentArms(config);
  const again = new ExperimentArms(structuredClone(config));
  const counts = { control: 0, treatment: 0 };
  for (let i = 0; i < 4000; i++) {
    const task = `task-${i}`;
    const arm = arms.armFor(task, `host-${i % 7}`);
    t.is(again.armFor(task, 'another-host').name, arm.name, 'bucketing by task ignores the host');
    counts[arm.name as keyof typeof counts]++;
  }
  t.true(counts.control > 2600 && counts.control < 3000, `about 70 % control: ${counts.control}`);
  const byHost = new ExperimentArms({ ...config, bucketBy: 'host' });
  t.is(byHost.armFor('a', 'host-1').name, byHost.armFor('b', 'host-1').name, 'bucketing by host ignores the task');
  const other = new ExperimentArms({ ...config, id: 'exp-2' });
  let moved = 0;
  for (let i = 0; i < 200; i++) if (other.armFor(`task-${i}`, '').name !== arms.armFor(`task-${i}`, '').name) moved++;
  t.true(moved > 0, 'another experiment id reshuffles the buckets');
});

test('Welch t-test matches the textbook value', (t) => {
  const r = welchTTest([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])!;
  t.is(r.t.toFixed(3), '-1.897');
  t.is(r.df.toFixed(2), '5.88');
  t.true(r.pValue > 0.1 && r.pValue < 0.115, `p=${r.pValue}`);
  t.is(welchTTest([1], [2, 3]), undefined);
});

test('report: per-arm summaries, a significant verdict, and "not enough data" with few samples', (t) => {
  const control = Array.from({ length: 12 }, (_, i) => outcome('control', 2000 + (i % 4) * 50, { bucket: `c-${i}` }));
  const treatment = Array.from({ length: 12 }, (_, i) => outcome('treatment', 1000 + (i % 4) * 50, { bucket: `t-${i}` }));
  const r = experimentReport('exp-1', [...treatment, ...control, outcome('treatment', 0, { succeeded: false, bytesPerSecond: 0 })]);
  t.deepEqual(r.arms.map((a) => [a.arm, a.downloads, a.failed]), [['control', 12, 0], ['treatment', 13, 1]]);
  const c = r.arms[0]!.durationMs;
  t.is(c.mean, 2075);
  t.true(c.ci95![0] < 2075 && c.ci95![1] > 2075);
  t.true(r.comparisons[0]!.bytesPerSecond!.pValue < 0.001);
  t.regex(r.verdict, /^treatment is faster than control: throughput \+\d/);
  const few = experimentReport('exp-1', [...control.slice(0, 3), ...treatment.slice(0, 12)]);
  t.regex(few.verdict, /^not enough data: control has 3 successful download\(s\); need at least 10 per arm/);
  const oneTask = experimentReport('exp-1', [...control, ...treatment].map((o) => ({ ...o, bucket: `only-${o.arm}` })));
  t.regex(oneTask.verdict, /^not enough data: control spans 1, treatment spans 1 bucket\(s\)/, 'twelve downloads of one task are one sample');
});

test('d7y experiment report reads the scheduler\'s outcome file (text and --json)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-exp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new JsonLinesOutcomeStore(dir);
  for (let i = 0; i < 12; i++) {
    await store.append(outcome('control', 2000 + i));
    await store.append(outcome('treatment', 2000 + ((i * 7) % 12)));
  }
  await writeFile(store.fileOf('exp-1'), 'not json\n', { flag: 'a' });
  const text = await runCli(['experiment', 'report', 'exp-1', '--data-dir', dir]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /arm control \(evaluator default\): n=12 ok, 0 failed, 12 bucket\(s\)/);
  t.regex(text.stdout, /Welch t-test treatment vs control: duration p=/);
  t.regex(text.stdout, /verdict: no significant difference between treatment and control/);
  const json = await runCli(['experiment', 'report', 'exp-1', '--data-dir', dir, '--json']);
  const report = JSON.parse(json.stdout) as { arms: { arm: string; durationMs: { n: number } }[] };
  t.deepEqual(report.arms.map((a) => [a.arm, a.durationMs.n]), [['control', 12], ['treatment', 12]]);
  const missing = await runCli(['experiment', 'report', 'nope', '--data-dir', dir]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /no outcomes of experiment "nope"/);
  t.regex(missing.stderr, /fix:/);
});
