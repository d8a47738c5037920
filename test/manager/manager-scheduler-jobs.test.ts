import test from 'ava';
import { silentLogger } from '../../core/logging/logger.js';
import { DfdaemonUploadClient } from '../../core/protocol/rpc/dfdaemon-upload-client.js';
import { HostType } from '../../core/protocol/rpc/gen/common.js';
import { JobRunner } from '../../core/roles/scheduler/job-runner.js';
import { ManagerLink } from '../../core/roles/scheduler/manager-link.js';
import { hostMsg, startFakeDfdaemon, startScheduler, until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import { startManager } from './manager-harness.js';

test('a scheduler linked to the manager registers, picks up its cluster\'s preheat and warms exactly 50 % of 4 peers', async (t) => {
  const m = await startManager(t);
  const token = (await m.root.createToken({ name: 'scheduler' })).token;
  const { role, client } = await startScheduler(t);
  const fakes = await Promise.all([0, 1, 2, 3, 4].map(() => startFakeDfdaemon(t)));
  await client.announceHost(hostMsg('seed-1', { type: HostType.HOST_TYPE_SUPER, rpcPort: fakes[4]!.port }));
  for (let i = 0; i < 4; i++) await client.announceHost(hostMsg(`peer-${i}`, { rpcPort: fakes[i]!.port }));
  const dfdaemon = new DfdaemonUploadClient();
  t.teardown(() => dfdaemon.close());
  const link = new ManagerLink({
    config: { url: m.url, token, cluster: 'edge', keepaliveIntervalMs: 200, jobPollIntervalMs: 100, persistentCacheReportInterval: 2_000 },
    ip: '127.0.0.1', port: () => role.port, runner: new JobRunner(role.resources, dfdaemon),
    logger: silentLogger(),
  });
  await link.start();
  t.teardown(() => link.stop());
  const pat = m.client(token);
  const schedulers = await pat.call<{ hostname: string; state: string; port: number }[]>('GET', '/oapi/v1/schedulers');
  t.deepEqual(schedulers.map((s) => [s.state, s.port]), [['active', role.port]]);

  const job = await pat.createJob({ type: 'preheat', args: { url: 'https://origin.example/big.bin', scope: 'all_peers', percentage: 50 } });
  t.true(await until(async () => (await pat.getJob(job.id)).state === 'succeeded', 10_000), 'the job ends');
  const done = await pat.getJob(job.id);
  t.is(done.results.length, 2);
  t.deepEqual(done.results.map((r) => r.host_id).sort(), ['peer-0', 'peer-1']);
  t.is(fakes.reduce((n, f) => n + f.calls.length, 0), 2, 'exactly two peers were asked to download');
  t.deepEqual(fakes[0]!.calls[0]!.download!.url, 'https://origin.example/big.bin');

  const seedJob = await pat.createJob({ type: 'preheat', args: { url: 'https://origin.example/big.bin', scope: 'single_seed_peer', load_to_memory: true } });
  t.true(await until(async () => (await pat.getJob(seedJob.id)).state === 'succeeded', 10_000));
  t.is(fakes[4]!.calls.length, 1, 'the seed peer got the single_seed_peer preheat');
  t.deepEqual(fakes[4]!.calls[0]!.download!.options, { storage: 'memory' });
});

test('a linked scheduler applies its cluster\'s dynamic config (limits, experiment) without a restart, and refuses unknown evaluators', async (t) => {
  const m = await startManager(t);
  const token = (await m.root.createToken({ name: 'scheduler' })).token;
  const { role } = await startScheduler(t, { candidateParentLimit: 4 });
  const link = new ManagerLink({
    config: { url: m.url, token, cluster: 'dyn', keepaliveIntervalMs: 150, jobPollIntervalMs: 1000, persistentCacheReportInterval: 2_000 },
    ip: '127.0.0.1', port: () => role.port, runner: new JobRunner(role.resources, new DfdaemonUploadClient()),
    logger: silentLogger(),
    onConfig: (cfg) => role.applyDynamicConfig(cfg),
  });
  await link.start();
  t.teardown(() => link.stop());
  t.like(role.describe(), { candidateParentLimit: 4, maxBackToSourcePeersPerTask: 3, policy: 'pieces' });
  const pat = m.client(token);
  const [cluster] = await pat.call<{ id: string; name: string }[]>('GET', '/oapi/v1/clusters');
  await pat.call('PATCH', `/oapi/v1/clusters/${cluster!.id}`, {
    config: {
      candidateParentLimit: 2, filterParentLimit: 10, maxBackToSourcePeersPerTask: 1, evaluator: 'nonesuch',
      experiment: { id: 'exp-dyn', bucketBy: 'host', variants: [{ name: 'a', evaluator: 'pieces', weight: 50 }, { name: 'b', evaluator: 'pieces', weight: 50 }] },
    },
  });
  t.true(await until(async () => role.describe().candidateParentLimit === 2, 10_000), 'the limit changed with a keepalive');
  t.like(role.describe(), { candidateParentLimit: 2, filterParentLimit: 10, maxBackToSourcePeersPerTask: 1, policy: 'experiment exp-dyn' });
  t.is(role.experiment?.id, 'exp-dyn');
  t.deepEqual(await role.applyDynamicConfig({ evaluator: 'nonesuch', candidateParentLimit: 99 }), [], 'an unloaded evaluator and an out-of-range limit change nothing');
});
