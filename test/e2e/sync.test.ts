import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startAllInOne } from '../support/all-in-one.js';
import { tmpDir, walk } from '../support/env.js';
import { runCli, startCli } from '../support/run-cli.js';
import { S3RVER_KEY, startS3rver, type S3rverInstance } from '../fakes/s3rver-process.js';
import { FakeWebHdfsServer } from '../fakes/fake-webhdfs-server.js';
import { syncCli, type SyncReport as Report } from '../support/sync-cli.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const storage = (s3: S3rverInstance) => ['--storage-endpoint', s3.endpoint, '--storage-region', 'us-east-1', '--storage-access-key-id', S3RVER_KEY.accessKeyId, '--storage-access-key-secret', S3RVER_KEY.accessKeySecret];

/** The object as s3rver stored it, or undefined. */
async function s3Object(s3: S3rverInstance, bucket: string, key: string): Promise<Buffer | undefined> {
  return readFile(join(s3.directory, bucket, `${key}._S3rver_object`)).catch(() => undefined);
}

async function seed(s3: S3rverInstance, bucket: string, objects: Record<string, Buffer>): Promise<void> {
  for (const [key, body] of Object.entries(objects)) await s3.writeObject(bucket, key, body);
}

const sync = syncCli;

test('sync s3 → s3 (two buckets): copies the tree, a second run copies nothing, --delete removes what vanished', async (t) => {
  const s3 = await startS3rver(['src', 'dst']);
  t.teardown(() => s3.stop());
  const objects: Record<string, Buffer> = {
    'data/a.bin': randomBytes(6 * 1024 * 1024 + 3), 'data/b.txt': Buffer.from('hello'), 'data/deep/c.bin': randomBytes(70_000), 'data/gone.txt': Buffer.from('bye'),
    'other/x.txt': Buffer.from('not under the prefix'),
  };
  await seed(s3, 'src', objects);
  const env = { D7Y_DATA_DIR: join(await tmpDir(t), 'data') };
  const args = ['s3://src/data/', 's3://dst/mirror/', ...storage(s3)];

  const first = await sync(env, args);
  t.is(first.code, 0, first.stderr);
  t.like(first.report, { copied: 4, skipped: 0, deleted: 0, failed: 0 });
  for (const k of ['a.bin', 'b.txt', 'deep/c.bin', 'gone.txt']) t.is(sha((await s3Object(s3, 'dst', `mirror/${k}`))!), sha(objects[`data/${k}`]), k);
  t.is(await s3Object(s3, 'dst', 'mirror/x.txt'), undefined);

  const second = await sync(env, args);
  t.is(second.code, 0, second.stderr);
  t.like(second.report, { copied: 0, skipped: 4, deleted: 0, bytes: 0 });

  await rm(join(s3.directory, 'src', 'data', 'gone.txt._S3rver_object'));
  await rm(join(s3.directory, 'src', 'data', 'gone.txt._S3rver_object.md5'));
  await rm(join(s3.directory, 'src', 'data', 'gone.txt._S3rver_metadata.json'));
  await s3.writeObject('src', 'data/b.txt', Buffer.from('hello, changed'));
  const third = await sync(env, [...args, '--delete']);
  t.is(third.code, 0, third.stderr);
  t.like(third.report, { copied: 1, skipped: 2, deleted: 1, failed: 0 });
  t.is((await s3Object(s3, 'dst', 'mirror/b.txt'))?.toString(), 'hello, changed');
  t.is(await s3Object(s3, 'dst', 'mirror/gone.txt'), undefined);
});

test('sync s3 → local directory: --include/--exclude, --dry-run changes nothing, edits are repaired, the summary line counts', async (t) => {
  const s3 = await startS3rver(['models']);
  t.teardown(() => s3.stop());
  const objects: Record<string, Buffer> = {
    'llm/w-0.bin': randomBytes(300_000), 'llm/w-1.bin': randomBytes(200_000), 'llm/config.json': Buffer.from('{}'), 'llm/tmp/scratch.bin': randomBytes(1000),
  };
  await seed(s3, 'models', objects);
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const out = join(dir, 'model');
  const args = ['s3://models/llm/', out, '--include', '**/*.bin', '--exclude', 'tmp/**', ...storage(s3)];

  const dry = await sync(env, [...args, '--dry-run']);
  t.is(dry.code, 0, dry.stderr);
  t.like(dry.report, { copied: 2, skipped: 0 });
  t.deepEqual(dry.stdout.trim().split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { path: string }).path).sort(), ['w-0.bin', 'w-1.bin']);
  t.false(existsSync(out), 'a dry run writes nothing');

  const first = await runCli(['sync', ...args, '--no-daemon', '--no-progress'], { env, timeoutMs: 120_000 });
  t.is(first.code, 0, first.stderr);
  t.regex(first.stderr, /d7y sync: copied 2, skipped 0, deleted 0, failed 0; 488\.3 KiB in .* → .*model\n$/);
  t.deepEqual(await walk(out), ['w-0.bin', 'w-1.bin']);
  t.is(sha(await readFile(join(out, 'w-0.bin'))), sha(objects['llm/w-0.bin']));

  await writeFile(join(out, 'w-1.bin'), 'edited by hand');
  const again = await sync(env, args);
  t.like(again.report, { copied: 1, skipped: 1 });
  t.is(sha(await readFile(join(out, 'w-1.bin'))), sha(objects['llm/w-1.bin']));
});

test('a sync killed halfway resumes without copying again what it finished', async (t) => {
  const s3 = await startS3rver(['bulk']);
  t.teardown(() => s3.stop());
  const objects: Record<string, Buffer> = {};
  for (let i = 0; i < 30; i++) objects[`set/f-${String(i).padStart(2, '0')}.bin`] = randomBytes(64 * 1024);
  await seed(s3, 'bulk', objects);
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const out = join(dir, 'out');
  const state = join(dir, 'state.jsonl');
  const args = ['s3://bulk/set/', out, '--state', state, ...storage(s3)];

  const slow = startCli(t, ['sync', ...args, '--concurrency', '1', '--rate-limit', '256KiB/s', '--no-daemon'], { env });
  const until = Date.now() + 60_000;
  const journal = async () => (await readFile(state, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  while (await journal() < 5 && Date.now() < until) await delay(100);
  process.kill(slow.pid!, 'SIGKILL');
  await new Promise((r) => slow.once('exit', r));
  const finished = await journal();
  t.true(finished >= 5 && finished < 30, `${finished} files finished before the kill`);

  const resumed = await sync(env, args);
  t.is(resumed.code, 0, resumed.stderr);
  t.is(resumed.report.skipped, finished);
  t.is(resumed.report.copied, 30 - finished);
  t.deepEqual(await walk(out), Object.keys(objects).map((k) => k.slice('set/'.length)).sort());
  for (const [k, body] of Object.entries(objects)) t.is(sha(await readFile(join(out, k.slice(4)))), sha(body), k);
});

test('sync reads through the local peer: a second destination is served from its cache, not the origin', async (t) => {
  const s3 = await startS3rver(['pub']);
  t.teardown(() => s3.stop());
  await seed(s3, 'pub', { 'r/a.bin': randomBytes(5 * 1024 * 1024), 'r/b.bin': randomBytes(100_000) });
  const node = await startAllInOne(t, { plugins: { plugins: [{ name: 'http' }, { name: 's3' }, { name: 'disk' }, { name: 'default' }] } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const run = (dst: string) => runCli(['sync', 's3://pub/r/', join(dir, dst), '--socket', node.socket, '--json', ...storage(s3)], { env, timeoutMs: 120_000 });
  const one = await run('one');
  t.is(one.code, 0, one.stderr);
  const first = JSON.parse(one.stdout) as Report;
  t.is(first.copied, 2);
  t.is(first.fromOrigin + first.fromPeers, first.bytes, 'the first sync reads the origin (through the seed peer for the large file)');
  const two = await run('two');
  const second = JSON.parse(two.stdout) as Report;
  t.is(second.copied, 2);
  t.is(second.fromOrigin, 0);
  t.is(second.fromCache, first.bytes);
});

test('bad sync input is a clear error, and a failed file makes the exit status 1', async (t) => {
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const local = await runCli(['sync', './some/dir', join(dir, 'x')], { env });
  t.is(local.code, 2);
  t.regex(local.stderr, /the source "\.\/some\/dir" is not a URL\n {2}fix: give a listable source/);
  const overlap = await runCli(['sync', 's3://b/data/', 's3://b/data/copy/'], { env });
  t.is(overlap.code, 2);
  t.regex(overlap.stderr, /s3:\/\/b\/data\/ and s3:\/\/b\/data\/copy\/ overlap/);
  const conc = await runCli(['sync', 's3://b/data/', join(dir, 'x'), '--concurrency', '0'], { env });
  t.is(conc.code, 2);
  t.regex(conc.stderr, /--concurrency 0 is not a whole number from 1 to 64/);
  const http = await runCli(['sync', 's3://b/data/', 'https://example.invalid/up/', '--no-daemon'], { env });
  t.is(http.code, 2);
  t.regex(http.stderr, /the https source cannot write, so https:\/\/example\.invalid\/up\/ cannot be a sync destination/);

  const s3 = await startS3rver(['src']);
  t.teardown(() => s3.stop());
  await seed(s3, 'src', { 'd/ok.txt': Buffer.from('ok') });
  const missing = await sync(env, ['s3://src/d/', 's3://nobucket/x/', ...storage(s3)]);
  t.is(missing.code, 1, missing.stderr);
  t.like(missing.report, { copied: 0, failed: 1 });
  t.regex(JSON.stringify(missing.report.failures), /ok\.txt/);
});

test('sync an HDFS directory (WebHDFS) to S3; the second run copies nothing', async (t) => {
  const dir = await tmpDir(t);
  const hdfs = new FakeWebHdfsServer({ root: join(dir, 'hdfs') });
  await hdfs.start();
  t.teardown(() => hdfs.stop());
  const files: Record<string, Buffer> = { 'logs/day-1.log': randomBytes(40_000), 'logs/sub/day-2.log': randomBytes(9_000) };
  for (const [p, body] of Object.entries(files)) {
    await mkdir(join(hdfs.localPath(`/warehouse/${p}`), '..'), { recursive: true });
    await writeFile(hdfs.localPath(`/warehouse/${p}`), body);
  }
  const s3 = await startS3rver(['lake']);
  t.teardown(() => s3.stop());
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const args = [`hdfs://${hdfs.authority}/warehouse/logs`, 's3://lake/logs/', ...storage(s3)];
  const first = await sync(env, args);
  t.is(first.code, 0, first.stderr);
  t.like(first.report, { copied: 2, failed: 0 });
  t.is(sha((await s3Object(s3, 'lake', 'logs/sub/day-2.log'))!), sha(files['logs/sub/day-2.log']));
  const second = await sync(env, args);
  t.like(second.report, { copied: 0, skipped: 2 });
});
