import test, { type ExecutionContext } from 'ava';
import { HostType, type Download } from '../../core/protocol/rpc/gen/common.js';
import { hostMsg, startScheduler, until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import { startPostgres } from '../support/postgres.js';
import { startManager } from './manager-harness.js';

const download = (url: string, over: Partial<Download> = {}): Download => ({
  url, tag: '', application: '', filteredQueryParams: [], requestHeader: {}, disableBackToSource: false, needBackToSource: false, options: {}, ...over,
});

interface Dashboard { back_to_source: { code: string; reason: string; downloads: number; bytes: number }[] }

async function splitByReason(t: ExecutionContext, databaseUrl?: string): Promise<void> {
  const m = await startManager(t, { databaseUrl });
  const token = (await m.root.createToken({ name: 'scheduler', scopes: ['job', 'cluster'] })).token;
  const { client } = await startScheduler(t, { manager: { url: m.url, token, cluster: 'edge', keepaliveInterval: '200ms', jobPollInterval: '10s' } });
  await client.announceHost(hostMsg('seed-host', { type: HostType.HOST_TYPE_SUPER, rpcPort: 9 }));
  await client.announceHost(hostMsg('h1'));
  await client.announceHost(hostMsg('h2'));

  const seed = client.announcePeer({ hostId: 'seed-host', taskId: 'a'.repeat(64), peerId: 'seed-peer' });
  await seed.register(download('http://127.0.0.1:9/seeded.bin'));
  t.is((await seed.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse');
  await seed.backToSourceStarted('seed peer downloads from the source');
  await seed.backToSourceFinished(4000, 1);

  const asked = client.announcePeer({ hostId: 'h1', taskId: 'b'.repeat(64), peerId: 'p1' });
  await asked.register(download('http://127.0.0.1:9/asked.bin', { needBackToSource: true }));
  t.is((await asked.next({ timeoutMs: 3000 }))?.response?.$case, 'needBackToSourceResponse');
  await asked.backToSourceStarted('requested: the download asked for the source');
  await asked.backToSourceFinished(3000, 1);

  const own = client.announcePeer({ hostId: 'h2', taskId: 'c'.repeat(64), peerId: 'p2' });
  await own.register(download('http://127.0.0.1:9/own.bin', { disableBackToSource: true }));
  await own.backToSourceStarted('no_trusted_digest: no trusted digest for piece 0 from scheduler 127.0.0.1:1 within 10000 ms');
  await own.backToSourceFinished(2000, 1);
  t.teardown(() => { for (const s of [seed, asked, own]) s.cancel(); });

  let d: Dashboard = { back_to_source: [] };
  t.true(await until(async () => (d = await m.root.call<Dashboard>('GET', '/api/v1/dashboard')).back_to_source.length === 3, 10_000), JSON.stringify(d));
  t.deepEqual(d.back_to_source.map((r) => [r.code, r.reason, r.downloads]).sort(), [
    ['no_trusted_digest', 'no trusted piece digest in time', 1],
    ['requested', 'the download asked for the origin', 1],
    ['seed_peer', 'seed peer fetched from the origin', 1],
  ], 'the scheduler\'s reason wins over the description; the peer\'s own reason is kept when it went by itself');
}

test('the dashboard splits back-to-source by the reason the scheduler gave or the peer reported', (t) => splitByReason(t));

test('download reasons on PostgreSQL (migration 0007)', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  await splitByReason(t, await pg.createDatabase('reasons'));
});
