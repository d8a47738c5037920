import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ManagerClient } from '../../core/protocol/manager/index.js';
import { tmpDir } from '../support/env.js';
import { startPostgres } from '../support/postgres.js';
import { startRedis } from '../support/redis.js';
import { startCli, waitForOutput } from '../support/run-cli.js';

const RATE = 4;
const ROOT_PASSWORD = 'replica-root-password';

test('two managers on one PostgreSQL and one Redis share sessions, tokens, jobs and the preheat rate limit; no secret is logged', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dbUrl = await pg.createDatabase('replicas');
  const logs: (() => string)[] = [];
  const managers: ManagerClient[] = [];
  await Promise.all([0, 1].map(async (i) => {
    const dir = await tmpDir(t, `d7y-replica-${i}-`);
    const cfg = join(dir, 'config.json');
    await writeFile(cfg, JSON.stringify({
      log: { level: 'trace' },
      manager: { listen: { host: '127.0.0.1', port: 0 }, rootPassword: ROOT_PASSWORD, database: { url: dbUrl }, redis: { url: redis.url }, jobs: { preheatRateLimit: RATE } },
    }));
    const plugins = join(dir, 'plugins.json');
    await writeFile(plugins, JSON.stringify({ plugins: [{ name: 'http' }, { name: 'oci' }] }));
    const child = startCli(t, ['manager', '--config', cfg, '--data-dir', dir, '--plugins-file', plugins]);
    let seen = '';
    child.stderr!.on('data', (d: Buffer) => { seen += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { seen += d.toString(); });
    logs.push(() => seen);
    const ready = await waitForOutput(child, /d7y: ready: manager \{"listen":"127\.0\.0\.1:(\d+)"/, 30_000);
    const port = /d7y: ready: manager \{"listen":"127\.0\.0\.1:(\d+)"/.exec(ready)![1];
    managers[i] = new ManagerClient({ url: `http://127.0.0.1:${port}` });
    t.teardown(() => managers[i]!.close());
  }));
  const [m1, m2] = managers as [ManagerClient, ManagerClient];
  await m1.signIn('root', ROOT_PASSWORD);
  m2.token = m1.token;
  const created = await m2.createToken({ name: 'replica-ci' });
  t.deepEqual((await m1.listTokens()).map((x) => x.name), ['replica-ci'], 'a session from one manager works on the other');
  const p1 = new ManagerClient({ url: m1.url, token: created.token });
  const p2 = new ManagerClient({ url: m2.url, token: created.token });
  t.teardown(() => Promise.all([p1.close(), p2.close()]));
  await p1.registerScheduler({ cluster: 'c1', hostname: 's1', ip: '127.0.0.1', port: 8002 });

  const burst = async () => {
    const attempts = Array.from({ length: RATE * 4 }, (_, i) => (i % 2 ? p2 : p1)
      .createJob({ type: 'preheat', args: { url: `https://origin.example/f${i}` } })
      .then(() => 'ok', (err: { code?: string }) => err.code ?? 'error'));
    return Promise.all(attempts);
  };
  const first = await burst();
  t.is(first.filter((x) => x === 'ok').length, RATE, `R=${RATE} accepted across both managers in one second`);
  t.is(first.filter((x) => x === 'D7Y_RATE_LIMITED').length, RATE * 3);
  t.is((await p2.listJobs({ type: 'preheat' })).length, RATE, 'jobs started = R');
  await new Promise((r) => setTimeout(r, 1100));
  const second = await burst();
  t.is(second.filter((x) => x === 'ok').length, RATE, 'the next second admits R more');
  t.is((await p1.listJobs({ type: 'preheat', limit: 100 })).length, RATE * 2);

  const audits = await m1.listAudits({ limit: 1000 });
  t.true(audits.some((a) => a.status === 429 && !a.success), 'refused preheats are audited');
  const log = logs.map((l) => l()).join('\n');
  t.regex(log, /"msg":"manager started"/, 'the logs were captured');
  for (const secret of [ROOT_PASSWORD, created.token, m1.token!]) {
    t.false(log.includes(secret), 'no secret in the manager logs (trace level)');
    t.false(JSON.stringify(audits).includes(secret), 'no secret in audit rows');
  }
});
