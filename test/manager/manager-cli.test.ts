import test from 'ava';
import { runCli } from '../support/run-cli.js';
import { ROOT_PASSWORD, startManager } from './manager-harness.js';

test('d7y token, preheat, job and audit commands drive the manager', async (t) => {
  const m = await startManager(t);
  const env = { D7Y_MANAGER_URL: m.url, D7Y_PASSWORD: ROOT_PASSWORD, D7Y_TOKEN: '' };
  const created = await runCli(['token', 'create', 'ci', '--user', 'root', '--scope', 'job,cluster'], { env });
  t.is(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  t.regex(token, /^d7y_/);
  const listed = await runCli(['token', 'list', '--user', 'root', '--json'], { env });
  t.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((x) => x.name), ['ci']);
  t.false(listed.stdout.includes(token));

  const noCluster = await runCli(['preheat', 'https://origin.example/a', '--token', token], { env });
  t.is(noCluster.code, 1);
  t.regex(noCluster.stderr, /d7y: .*no scheduler cluster/);
  t.regex(noCluster.stderr, /fix: /);
  t.false(noCluster.stderr.includes('    at '), 'no stack trace');

  await m.client(token).registerScheduler({ cluster: 'c1', hostname: 's1', ip: '127.0.0.1', port: 8002 });
  const badPiece = await runCli(['preheat', 'https://origin.example/a', '--piece-length', '1MiB', '--token', token], { env });
  t.is(badPiece.code, 2, "an invalid argument is a usage error");
  t.regex(badPiece.stderr, /body\.args\.piece_length/);
  const pre = await runCli(['preheat', 'https://origin.example/a', 'https://origin.example/b', '--scope', 'all_peers', '--percentage', '50', '--memory', '--json'], { env: { ...env, D7Y_TOKEN: token } });
  t.is(pre.code, 0, pre.stderr);
  const job = JSON.parse(pre.stdout) as { id: string; state: string; args: Record<string, unknown> };
  t.is(job.state, 'pending');
  t.deepEqual([job.args.urls, job.args.scope, job.args.percentage, job.args.load_to_memory],
    [['https://origin.example/a', 'https://origin.example/b'], 'all_peers', 50, true]);
  const list = await runCli(['job', 'list', '--json', '--token', token], { env });
  t.deepEqual((JSON.parse(list.stdout) as { id: string }[]).map((j) => j.id), [job.id]);
  const get = await runCli(['job', 'get', job.id, '--token', token], { env });
  t.regex(get.stdout, new RegExp(`${job.id}\\s+preheat\\s+pending`));
  const audit = await runCli(['audit', 'list', '--user', 'root', '--path', '/oapi/v1/jobs', '--json'], { env });
  const rows = JSON.parse(audit.stdout) as { actor_name: string; method: string; status: number }[];
  t.true(rows.some((r) => r.actor_name === 'ci' && r.method === 'POST' && r.status === 201));
  t.true(rows.some((r) => r.status === 400 && r.method === 'POST'));
  const noToken = await runCli(['job', 'list'], { env });
  t.is(noToken.code, 1);
  t.regex(noToken.stderr, /no token given/);
});
