import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { SourceRouter } from '../../core/registry/source-router.js';
import { until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import { S3SourceClient } from '../../sources/s3/s3-source-client.js';
import { S3RVER_KEY, startS3rver } from '../fakes/s3rver-process.js';
import { tmpDir } from '../support/env.js';
import { startLinkedPeer } from '../support/linked-peer.js';
import { startPostgres } from '../support/postgres.js';
import { startManager } from './manager-harness.js';

interface SyncRun { id: string; state: string; command_id: string | null; report: Record<string, number | string>; error: string | null }

function s3Sources(t: ExecutionContext, endpoint: string): SourceRouter {
  const sources = new SourceRouter();
  const client = new S3SourceClient({ endpoint, ...S3RVER_KEY });
  t.teardown(() => client.close());
  sources.add(client, 's3');
  return sources;
}

async function copiesToTheSeed(t: ExecutionContext, databaseUrl?: string): Promise<void> {
  const s3 = await startS3rver(['mirror']);
  t.teardown(() => s3.stop());
  const files: Record<string, string> = { 'a.txt': 'first a', 'b.bin': 'b'.repeat(100_000), 'dir/c.txt': 'nested c' };
  for (const [k, v] of Object.entries(files)) await s3.writeObject('mirror', `tree/${k}`, Buffer.from(v));
  const m = await startManager(t, { databaseUrl, sources: s3Sources(t, s3.endpoint) });
  const token = (await m.root.createToken({ name: 'nodes', scopes: ['job', 'cluster'] })).token;
  const pat = m.client(token);
  await startLinkedPeer(t, m, token, { seed: true, hostname: 'seed-copy', sources: s3Sources(t, s3.endpoint) });
  await startLinkedPeer(t, m, token, { hostname: 'edge-copy' });
  t.true(await until(async () => (await pat.call<unknown[]>('GET', '/oapi/v1/peers')).length === 2, 5_000));
  const dst = await tmpDir(t, 'd7y-sync-copy-');

  const missing = await t.throwsAsync(pat.call('POST', '/oapi/v1/syncs', { source: 's3://mirror/tree/', schedule: '*/2 * * * * *', mode: 'copy' }));
  t.regex(missing!.message, /destination.*needs a destination/);

  const sync = await pat.call<{ id: string; mode: string }>('POST', '/oapi/v1/syncs', { source: 's3://mirror/tree/', schedule: '*/2 * * * * *', mode: 'copy', destination: dst });
  t.is(sync.mode, 'copy');
  const runs = () => pat.call<SyncRun[]>('GET', `/oapi/v1/syncs/${sync.id}/runs`);
  const ended = async (n: number) => until(async () => (await runs()).filter((r) => r.state !== 'running').length >= n, 20_000);

  t.true(await ended(1), 'the first scheduled run ends');
  const [first] = await runs();
  t.is(first!.state, 'succeeded', first!.error ?? '');
  t.like(first!.report, { copied: 3, skipped: 0, failed: 0, bytes: 100_000 + 7 + 8, src: 's3://mirror/tree/', dst });
  t.truthy(first!.command_id, 'the run names the command the seed peer ran');
  for (const [k, v] of Object.entries(files)) t.is(await readFile(join(dst, k), 'utf8'), v, `${k} copied byte for byte`);
  const command = await pat.getCommand(first!.command_id!);
  t.like(command, { type: 'sync_copy', target: 'peer', state: 'succeeded' });
  const [seed] = await pat.call<{ id: string; type: string }[]>('GET', '/oapi/v1/peers', undefined, { type: 'seed' });
  t.is(command.peer_id, seed!.id, 'the seed peer ran it');

  t.true(await ended(2), 'the next scheduled run ends');
  const [second] = await runs();
  t.is(second!.state, 'succeeded', second!.error ?? '');
  t.like(second!.report, { copied: 0, skipped: 3, failed: 0, bytes: 0 });

  await pat.call('POST', `/oapi/v1/syncs/${sync.id}/pause`);
  await s3.writeObject('mirror', 'tree/d.txt', Buffer.from('new d'));
  await until(async () => (await runs()).every((r) => r.state !== 'running'), 10_000);
  const now = await pat.call<SyncRun>('POST', `/oapi/v1/syncs/${sync.id}/run`);
  t.true(await until(async () => (await runs()).find((r) => r.id === now.id)?.state === 'succeeded', 15_000), 'run now ends');
  t.like((await runs()).find((r) => r.id === now.id)!.report, { copied: 1, skipped: 3 });
  t.deepEqual((await readdir(dst, { recursive: true })).sort(), ['a.txt', 'b.bin', 'd.txt', 'dir', 'dir/c.txt']);

  const empty = await pat.call<{ id: string }>('POST', '/oapi/v1/syncs', { source: 's3://mirror/nothing-here/', schedule: '0 0 1 1 *', mode: 'copy', destination: dst });
  const bad = await pat.call<SyncRun>('POST', `/oapi/v1/syncs/${empty.id}/run`);
  let failed: SyncRun | undefined;
  t.true(await until(async () => (failed = (await pat.call<SyncRun[]>('GET', `/oapi/v1/syncs/${empty.id}/runs`)).find((r) => r.id === bad.id))?.state === 'failed', 15_000));
  t.regex(failed!.error ?? '', /nothing to sync under s3:\/\/mirror\/nothing-here\/.*check the source/, 'the seed peer\'s error and its fix are the run\'s error');
}

test('a copy-mode sync job copies an S3 prefix to a directory on a seed peer over the command channel; the next run copies nothing', (t) => copiesToTheSeed(t));

test('copy-mode sync jobs on PostgreSQL (migration 0007)', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  await copiesToTheSeed(t, await pg.createDatabase('synccopy'));
});
