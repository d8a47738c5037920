import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir, walk } from '../support/env.js';
import { syncCli } from '../support/sync-cli.js';
import { FakeGcsServer } from '../fakes/fake-gcs-server.js';
import { FakeWebHdfsServer } from '../fakes/fake-webhdfs-server.js';

test('sync gs → gs --delete: removes from the destination bucket what vanished from the source, and nothing else', async (t) => {
  const dir = await tmpDir(t);
  const gcs = new FakeGcsServer({ root: join(dir, 'gcs'), buckets: ['src', 'dst'] });
  await gcs.start();
  t.teardown(() => gcs.stop());
  const objects: Record<string, Buffer> = { 'data/a.bin': randomBytes(300_000), 'data/sub/b.txt': Buffer.from('b'), 'data/gone.txt': Buffer.from('bye') };
  for (const [name, body] of Object.entries(objects)) await gcs.putObject('src', name, body);
  await gcs.putObject('dst', 'mirror/kept-by-hand.txt', Buffer.from('not from the source'));
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const args = ['gs://src/data/', 'gs://dst/mirror/', '--storage-endpoint', gcs.endpoint, '--delete'];

  const first = await syncCli(env, args);
  t.is(first.code, 0, first.stderr);
  t.like(first.report, { copied: 3, deleted: 0, failed: 0 });
  t.true((await readFile(gcs.objectPath('dst', 'mirror/a.bin'))).equals(objects['data/a.bin']!));

  await rm(gcs.objectPath('src', 'data/gone.txt'));
  const second = await syncCli(env, args);
  t.is(second.code, 0, second.stderr);
  t.like(second.report, { copied: 0, skipped: 2, deleted: 1, failed: 0 });
  await t.throwsAsync(readFile(gcs.objectPath('dst', 'mirror/gone.txt')), { code: 'ENOENT' }, 'the vanished object is gone from the destination');
  t.is((await readFile(gcs.objectPath('dst', 'mirror/kept-by-hand.txt'))).toString(), 'not from the source', 'an object the sync never copied stays');
  t.truthy(gcs.requests.find((r) => r.startsWith('DELETE /storage/v1/b/dst/o/mirror%2Fgone.txt')), 'one objects.delete call');

  const third = await syncCli(env, args);
  t.like(third.report, { copied: 0, skipped: 2, deleted: 0 });
});

test('sync hdfs → hdfs --delete: removes from the destination directory what vanished from the source, and nothing else', async (t) => {
  const dir = await tmpDir(t);
  const hdfs = new FakeWebHdfsServer({ root: join(dir, 'hdfs') });
  await hdfs.start();
  t.teardown(() => hdfs.stop());
  const files: Record<string, Buffer> = { 'logs/day-1.log': randomBytes(40_000), 'logs/sub/day-2.log': randomBytes(9_000), 'logs/sub/old.log': Buffer.from('old') };
  for (const [p, body] of Object.entries(files)) {
    await mkdir(join(hdfs.localPath(`/raw/${p}`), '..'), { recursive: true });
    await writeFile(hdfs.localPath(`/raw/${p}`), body);
  }
  await mkdir(hdfs.localPath('/copy'), { recursive: true });
  await writeFile(hdfs.localPath('/copy/notes.txt'), 'written by someone else');
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const args = [`hdfs://${hdfs.authority}/raw/logs`, `hdfs://${hdfs.authority}/copy`, '--delete'];

  const first = await syncCli(env, args);
  t.is(first.code, 0, first.stderr);
  t.like(first.report, { copied: 3, deleted: 0, failed: 0 });
  t.deepEqual(await walk(hdfs.localPath('/copy')), ['day-1.log', 'notes.txt', 'sub/day-2.log', 'sub/old.log']);

  await rm(hdfs.localPath('/raw/logs/sub/old.log'));
  const second = await syncCli(env, args);
  t.is(second.code, 0, second.stderr);
  t.like(second.report, { copied: 0, skipped: 2, deleted: 1, failed: 0 });
  t.deepEqual(await walk(hdfs.localPath('/copy')), ['day-1.log', 'notes.txt', 'sub/day-2.log'], 'only the vanished file is removed');
  t.truthy(hdfs.requests.find((r) => /^namenode DELETE \/webhdfs\/v1\/copy\/sub\/old\.log\?op=DELETE&recursive=false/.test(r)));
});
