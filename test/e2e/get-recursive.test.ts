import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAllInOne } from '../support/all-in-one.js';
import { cachedFixture } from '../support/artifact-fixture.js';
import { tmpDir, walk } from '../support/env.js';
import { pushImage, skopeoCopyLayout, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { S3RVER_KEY, startS3rver } from '../fakes/s3rver-process.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('get -r downloads an S3 prefix through the peer, honouring --include and --max-files', async (t) => {
  const s3 = await startS3rver(['models']);
  t.teardown(() => s3.stop());
  const objects: Record<string, Buffer> = {
    'llm/v1/weights-0.bin': randomBytes(6 * 1024 * 1024),
    'llm/v1/weights-1.bin': randomBytes(300 * 1024),
    'llm/v1/config.json': Buffer.from('{"layers":32}'),
    'llm/v1/tokenizer/vocab.bin': randomBytes(50 * 1024),
    'other/readme.txt': Buffer.from('not under the prefix'),
  };
  for (const [key, body] of Object.entries(objects)) await s3.writeObject('models', key, body);
  const node = await startAllInOne(t, { plugins: { plugins: [{ name: 'http' }, { name: 's3' }, { name: 'disk' }, { name: 'default' }] } });
  const storage = ['--storage-endpoint', s3.endpoint, '--storage-region', 'us-east-1', '--storage-access-key-id', S3RVER_KEY.accessKeyId, '--storage-access-key-secret', S3RVER_KEY.accessKeySecret];
  const out = join(await tmpDir(t), 'model');

  const r = await runCli(['get', 's3://models/llm/v1/', '-r', '-O', out, '--include', '**/*.bin', '--socket', node.socket, '--no-progress', ...storage], { timeoutMs: 120_000 });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /d7y: 3 files, 6\.3 MiB in .* from the origin, .* → .*model\n/);
  t.deepEqual(await walk(out), ['tokenizer/vocab.bin', 'weights-0.bin', 'weights-1.bin']);
  for (const name of ['weights-0.bin', 'weights-1.bin', 'tokenizer/vocab.bin']) {
    t.is(sha(await readFile(join(out, name))), sha(objects[`llm/v1/${name}`]), name);
  }
  t.notRegex(r.stderr, new RegExp(S3RVER_KEY.accessKeySecret));

  const tooMany = await runCli(['get', 's3://models/llm/', '-r', '-O', join(out, '..', 'x'), '--max-files', '2', '--socket', node.socket, ...storage], { timeoutMs: 60_000 });
  t.is(tooMany.code, 2);
  t.regex(tooMany.stderr, /s3:\/\/models\/llm\/ holds more than 2 matching files\n {2}fix: raise --max-files/);

  const http = await runCli(['get', 'https://example.invalid/dir/', '-r', '-O', join(out, '..', 'y'), '--socket', node.socket], { timeoutMs: 60_000 });
  t.is(http.code, 2);
  t.regex(http.stderr, /cannot list, so https:\/\/example\.invalid\/dir\/ cannot be downloaded recursively/);
});

test('get -r of an OCI tag writes an image layout that skopeo accepts', async (t) => {
  const reg = await startRegistry(t);
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:amd64`, reg, 'team/app:v1');
  const node = await startAllInOne(t, {
    plugins: { plugins: [{ name: 'http' }, { name: 'oci', config: { insecureRegistries: [reg.host] } }, { name: 'disk' }, { name: 'default' }] },
  });
  const out = join(await tmpDir(t), 'layout');
  const r = await runCli(['get', `oci://${reg.host}/team/app:v1`, '-r', '-O', out, '--socket', node.socket, '--no-progress'], { timeoutMs: 120_000 });
  t.is(r.code, 0, r.stderr);
  const files = await walk(out);
  t.true(files.includes('index.json') && files.includes('oci-layout'), files.join(', '));
  t.true(files.filter((f) => f.startsWith('blobs/sha256/')).length >= 3, 'manifest, config and at least one layer');
  const copy = join(await tmpDir(t), 'copy');
  const { stderr } = await skopeoCopyLayout(`oci:${out}`, `oci:${copy}:copied`);
  t.notRegex(stderr, /error/i);
  t.true((await walk(copy)).includes('index.json'));
});
