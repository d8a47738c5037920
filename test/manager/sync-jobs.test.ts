import test, { type ExecutionContext } from 'ava';
import { SourceRouter } from '../../core/registry/source-router.js';
import { hostMsg, startFakeDfdaemon, startScheduler, until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import { S3SourceClient } from '../../sources/s3/s3-source-client.js';
import { S3RVER_KEY, startS3rver } from '../fakes/s3rver-process.js';
import { freePort } from '../support/env.js';
import { startPostgres } from '../support/postgres.js';
import { startManager } from './manager-harness.js';

interface SyncRun { id: string; state: string; job_id: string | null; report: { listed: number; changed: number; removed: number; warmed: number; failed: number }; error: string | null }

async function keepsPeersWarm(t: ExecutionContext, databaseUrl?: string): Promise<void> {
  const s3 = await startS3rver(['warm']);
  t.teardown(() => s3.stop());
  for (const k of ['a.txt', 'b.txt', 'dir/c.txt']) await s3.writeObject('warm', `tree/${k}`, Buffer.from(`first ${k}`));
  const sources = new SourceRouter();
  const s3client = new S3SourceClient({ endpoint: s3.endpoint, ...S3RVER_KEY });
  t.teardown(() => s3client.close());
  sources.add(s3client, 's3');
  const m = await startManager(t, { sources, databaseUrl, manager: { webhooks: { allowedHosts: ['127.0.0.1'], initialBackoff: '1h' } } });
  const token = (await m.root.createToken({ name: 'scheduler', scopes: ['job', 'cluster'] })).token;
  const pat = m.client(token);
  const { client } = await startScheduler(t, { manager: { url: m.url, token, cluster: 'edge', keepaliveInterval: '200ms', jobPollInterval: '100ms' } });
  const fakes = await Promise.all([0, 1].map(() => startFakeDfdaemon(t)));
  for (const [i, f] of fakes.entries()) await client.announceHost(hostMsg(`peer-${i}`, { rpcPort: f.port }));
  t.true(await until(async () => (await pat.call<unknown[]>('GET', '/oapi/v1/schedulers')).length === 1, 5_000));
  const hook = await pat.createWebhook({ url: `http://127.0.0.1:${await freePort()}/hook`, events: ['sync.run.finished'] });
  const warmed = () => fakes.flatMap((f) => f.calls.map((c) => c.download!.url)).sort();

  const bad = await t.throwsAsync(pat.call('POST', '/oapi/v1/syncs', { source: 's3://warm/tree/', schedule: 'every minute' }));
  t.regex(bad!.message, /schedule.*not a cron schedule/);

  const sync = await pat.call<{ id: string; next_run_at: string }>('POST', '/oapi/v1/syncs', { source: 's3://warm/tree/', schedule: '*/2 * * * * *', scope: 'all_peers' });
  const runs = () => pat.call<SyncRun[]>('GET', `/oapi/v1/syncs/${sync.id}/runs`);
  const ended = async (n: number) => until(async () => (await runs()).filter((r) => r.state !== 'running').length >= n, 15_000);

  t.true(await ended(1), 'the first scheduled run ends');
  const [first] = await runs();
  t.is(first!.state, 'succeeded', first!.error ?? '');
  t.like(first!.report, { listed: 3, changed: 3, warmed: 6, failed: 0 });
  t.deepEqual(warmed(), ['a.txt', 'a.txt', 'b.txt', 'b.txt', 'dir/c.txt', 'dir/c.txt'].map((k) => `s3://warm/tree/${k}`), 'both peers fetched every object once');

  const events = await pat.webhookDeliveries(hook.id);
  t.like(events.at(-1)!.payload, { event: 'sync.run.finished', data: { id: first!.id, state: 'succeeded', report: { changed: 3, warmed: 6 } } });

  t.true(await ended(2), 'the next scheduled run ends');
  const [second] = await runs();
  t.like(second!.report, { listed: 3, changed: 0, warmed: 0 });
  t.is(second!.job_id, null, 'nothing changed, so no preheat');
  t.is(warmed().length, 6);

  await s3.writeObject('warm', 'tree/b.txt', Buffer.from('second b.txt, longer'));
  await s3.writeObject('warm', 'tree/d.txt', Buffer.from('new d.txt'));
  const before = warmed().length;
  t.true(await until(async () => (await runs()).some((r) => r.report.changed === 2 && r.state === 'succeeded'), 15_000), 'a run picks up the change');
  const changedRun = (await runs()).find((r) => r.report.changed === 2)!;
  t.like(changedRun.report, { listed: 4, warmed: 4 });
  t.deepEqual(warmed().filter((u) => u.endsWith('b.txt') || u.endsWith('d.txt')).length, 6);
  t.is(warmed().length - before, 4, 'only the changed and the new object were warmed, on both peers');

  await pat.call('POST', `/oapi/v1/syncs/${sync.id}/pause`);
  const count = (await runs()).length;
  await new Promise((r) => setTimeout(r, 3_000));
  t.true((await runs()).length <= count + 1, 'no run starts once paused (one may have been under way)');
  t.is((await pat.call<{ state: string }>('GET', `/oapi/v1/syncs/${sync.id}`)).state, 'paused');
  await pat.call('DELETE', `/oapi/v1/syncs/${sync.id}`);
  t.deepEqual(await pat.call('GET', '/oapi/v1/syncs'), []);
}

test('a cron sync job keeps peers warm with an S3 prefix, preheating only what changed since its last run; pause stops it', (t) => keepsPeersWarm(t));

test('sync jobs on PostgreSQL: only what changed is warmed again', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  await keepsPeersWarm(t, await pg.createDatabase('syncs'));
});
