import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cachedFixture } from '../support/artifact-fixture.js';
import { tmpDir } from '../support/env.js';
import { pushImage, startRegistry, type Registry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { syncCli } from '../support/sync-cli.js';

const run = promisify(execFile);

/** `skopeo inspect --raw` of an image or manifest on a plain-http registry: the exact bytes it serves. */
async function raw(registry: Registry, ref: string): Promise<string> {
  return (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${ref}`], { timeout: 60_000 })).stdout;
}

interface Descriptor { digest: string; platform?: { architecture: string } }

test('sync oci → oci: every platform of the index byte-identical, blobs the destination holds are not read, a second run copies nothing', async (t) => {
  const from = await startRegistry(t);
  const to = await startRegistry(t);
  const layout = join(await cachedFixture('build-oci-images.sh'), 'layout');
  await pushImage(`oci:${layout}:multi`, from, 'team/app:v1', { all: true });
  await pushImage(`oci:${layout}:amd64`, to, 'mirror/app:old');
  const dir = await tmpDir(t);
  const plugins = join(dir, 'plugins.json');
  await writeFile(plugins, JSON.stringify({ plugins: [
    { name: 'http' }, { name: 'disk' }, { name: 'default' },
    { name: 'oci', config: { insecureRegistries: [from.host, to.host], monolithicUploadMaxSize: '1MiB', uploadChunkSize: '512KiB' } },
  ] }));
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const args = [`oci://${from.host}/team/app:v1`, `oci://${to.host}/mirror/app:v1`, '--plugins-file', plugins];

  const first = await syncCli(env, args);
  t.is(first.code, 0, first.stderr);
  t.is(first.report.failed, 0);

  const index = await raw(from, 'team/app:v1');
  t.is(await raw(to, 'mirror/app:v1'), index, 'the index is byte-identical');
  const platforms = (JSON.parse(index) as { manifests: Descriptor[] }).manifests;
  t.deepEqual(platforms.map((m) => m.platform?.architecture).sort(), ['amd64', 'arm64']);
  for (const m of platforms) {
    t.is(await raw(to, `mirror/app@${m.digest}`), await raw(from, `team/app@${m.digest}`), `the ${m.platform?.architecture} manifest is byte-identical`);
    const out = join(dir, `out-${m.platform?.architecture}`);
    await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${to.host}/mirror/app@${m.digest}`, `oci:${out}:x`], { timeout: 60_000 });
    t.regex(await readFile(join(out, 'index.json'), 'utf8'), /"org\.opencontainers\.image\.ref\.name":"x"/, `skopeo copies the ${m.platform?.architecture} image out of the destination`);
  }

  const amd64 = JSON.parse(await raw(from, `team/app@${platforms.find((m) => m.platform?.architecture === 'amd64')!.digest}`)) as { layers: Descriptor[] };
  const reads = from.requests().filter((r) => r.method === 'GET' && r.uri.includes('/blobs/'));
  for (const l of amd64.layers) t.false(reads.some((r) => r.uri.includes(l.digest)), `the amd64 layer ${l.digest.slice(0, 19)} the destination held was not read`);
  const pushes = to.requests().filter((r) => r.uri.startsWith('/v2/mirror/app/'));
  t.true(pushes.some((r) => r.method === 'PATCH' && r.status === 202), 'layers above 1 MiB went up in chunks');
  t.true(pushes.some((r) => r.method === 'PUT' && r.uri.includes('digest=sha256') && r.status === 201), 'uploads were closed with their digest');
  t.true(pushes.some((r) => r.method === 'PUT' && r.uri.endsWith('/manifests/v1') && r.status === 201), 'the tag was stored');

  const before = to.requests().length;
  const second = await syncCli(env, args);
  t.is(second.code, 0, second.stderr);
  t.like(second.report, { copied: 0, bytes: 0, failed: 0 });
  t.deepEqual(to.requests().slice(before).filter((r) => r.method !== 'GET' && r.method !== 'HEAD'), [], 'the second run wrote nothing');

  await pushImage(`oci:${layout}:multi`, from, 'team/app:docker', { all: true, format: 'v2s2' });
  const docker = await syncCli(env, [`oci://${from.host}/team/app:docker`, `oci://${to.host}/mirror/app`, '--plugins-file', plugins]);
  t.is(docker.code, 0, docker.stderr);
  const list = await raw(from, 'team/app:docker');
  t.regex(list, /manifest\.list\.v2\+json/);
  t.is(await raw(to, 'mirror/app:docker'), list, 'a Docker manifest list is copied as it is, under the source\'s tag');

  const one = await syncCli(env, [`oci://${from.host}/team/app:v1?platform=linux/arm64`, `oci://${to.host}/mirror/app:arm64`, '--plugins-file', plugins]);
  t.is(one.code, 0, one.stderr);
  const arm64 = platforms.find((m) => m.platform?.architecture === 'arm64')!;
  t.is(await raw(to, 'mirror/app:arm64'), await raw(from, `team/app@${arm64.digest}`), '?platform= on the source copies that one platform\'s manifest as the tag');
});

test('sync to a registry: a source that is not an image, and --delete, are refused before anything runs', async (t) => {
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const s3 = await runCli(['sync', 's3://bucket/data/', 'oci://127.0.0.1:5000/team/app:v1', '--no-daemon'], { env });
  t.is(s3.code, 2);
  t.regex(s3.stderr, /a registry \(oci:\/\/127\.0\.0\.1:5000\/team\/app:v1\) takes images only, and s3:\/\/bucket\/data\/ is not one\n {2}fix: sync an OCI image/);
  const del = await runCli(['sync', 'oci://127.0.0.1:5000/team/app:v1', 'oci://127.0.0.1:5001/team/app:v1', '--delete', '--no-daemon'], { env });
  t.is(del.code, 2);
  t.regex(del.stderr, /--delete cannot apply to the registry oci:\/\/127\.0\.0\.1:5001\/team\/app:v1: its blobs and manifests may be shared with other tags/);
});
