import test from 'ava';
import { SourceRouter } from '../../core/registry/source-router.js';
import { until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import { S3SourceClient } from '../../sources/s3/s3-source-client.js';
import { freePort } from '../support/env.js';
import { runCli } from '../support/run-cli.js';
import { startManager } from './manager-harness.js';

test('d7y job sync create, list, pause, run, runs and rm drive the manager\'s sync jobs; a run that cannot list its source says why', async (t) => {
  const deadPort = await freePort();
  const sources = new SourceRouter();
  const s3 = new S3SourceClient({ endpoint: `http://127.0.0.1:${deadPort}`, accessKeyId: 'k', accessKeySecret: 's' });
  t.teardown(() => s3.close());
  sources.add(s3, 's3');
  const m = await startManager(t, { sources });
  const token = (await m.root.createToken({ name: 'ci', scopes: ['job', 'cluster'] })).token;
  await m.client(token).registerScheduler({ cluster: 'c1', hostname: 's1', ip: '127.0.0.1', port: 8002 });
  const env = { D7Y_MANAGER_URL: m.url, D7Y_TOKEN: token };

  const bad = await runCli(['job', 'sync', 'create', 's3://b/p/', '--schedule', 'sometimes'], { env });
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /schedule.*not a cron schedule/);
  const created = await runCli(['job', 'sync', 'create', 's3://b/p/', '--schedule', '0 3 * * *', '--percentage', '50', '--json'], { env });
  t.is(created.code, 0, created.stderr);
  const sync = JSON.parse(created.stdout) as { id: string; state: string; percentage: number; next_run_at: string };
  t.like(sync, { state: 'active', percentage: 50 });
  t.is(new Date(sync.next_run_at).getUTCMinutes(), 0);

  const paused = await runCli(['job', 'sync', 'pause', sync.id], { env });
  t.is(paused.code, 0, paused.stderr);
  const list = await runCli(['job', 'sync', 'list'], { env });
  t.regex(list.stdout, new RegExp(`${sync.id}\\s+s3://b/p/\\s+0 3 \\* \\* \\*\\s+paused`));

  const run = await runCli(['job', 'sync', 'run', sync.id], { env });
  t.is(run.code, 0, run.stderr);
  let runs: { state: string; error: string | null }[] = [];
  t.true(await until(async () => {
    const r = await runCli(['job', 'sync', 'runs', sync.id, '--json'], { env });
    runs = JSON.parse(r.stdout) as typeof runs;
    return runs[0]?.state === 'failed';
  }, 30_000), 'the run ends');
  t.regex(runs[0]!.error ?? '', /list s3:\/\/b\/p\/ failed: .*ECONNREFUSED.*check that the S3 endpoint is reachable/, 'the run says why it failed');
  const table = await runCli(['job', 'sync', 'runs', sync.id], { env });
  t.regex(table.stdout, /RUN\s+STATE\s+STARTED\s+LISTED/);

  const rm = await runCli(['job', 'sync', 'rm', sync.id], { env });
  t.is(rm.code, 0, rm.stderr);
  t.is((await runCli(['job', 'sync', 'list', '--json'], { env })).stdout.trim(), '[]');
});
