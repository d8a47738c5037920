import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cachedFixture } from '../support/artifact-fixture.js';
import { freePort, tmpDir } from '../support/env.js';
import { pushImage, startRegistry, type Registry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

const run = promisify(execFile);

interface Setup {
  upstream: Registry;
  mirror: Registry;
  dropIn: string;
  /** The digest of the pushed image's manifest. */
  manifestDigest: string;
  work: string;
}

/**
 * An upstream registry with test/img:v1, a pull-through stand-in mirror at a port of its own, and
 * `d7y init <runtime> --config-dir <tmp>/containers` naming the upstream registry and the mirror.
 */
async function setUp(t: ExecutionContext, runtime: 'podman' | 'cri-o'): Promise<Setup> {
  const layout = join(await cachedFixture('build-oci-images.sh'), 'layout');
  const upstream = await startRegistry(t);
  await pushImage(`oci:${layout}:amd64`, upstream, 'test/img:v1');
  const mirrorPort = await freePort();
  const mirror = await startRegistry(t, { pullThrough: `http://${upstream.host}`, port: mirrorPort });
  const work = await tmpDir(t, 'd7y-init-regconf-');
  const init = await runCli(['init', runtime, '--config-dir', join(work, 'containers'), '--proxy', `127.0.0.1:${mirrorPort}`, '--registry', `http://${upstream.host}`]);
  t.is(init.code, 0, init.stderr);
  const dropIn = join(work, 'containers/registries.conf.d/zz-d7y-mirror.conf');
  t.regex(init.stdout, /created\s+.*zz-d7y-mirror\.conf/);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const manifestDigest = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'amd64')!.digest;
  return { upstream, mirror, dropIn, manifestDigest, work };
}

/** The requests a client with this user agent made to a registry (after the first `since`), as `METHOD uri`. */
function requestsBy(registry: Registry, agent: RegExp, since = 0): string[] {
  return registry.requests().slice(since).filter((r) => agent.test(r.userAgent)).map((r) => `${r.method} ${r.uri}`);
}

test('d7y init podman: skopeo with the written registries.conf copies an image through the mirror', async (t) => {
  const s = await setUp(t, 'podman');
  const conf = await readFile(s.dropIn, 'utf8');
  t.true(conf.includes(`prefix = "${s.upstream.host}"`) && conf.includes('insecure = true'), conf);

  const out = join(s.work, 'out');
  const pushed = s.upstream.requests().length;
  await run('skopeo', ['--registries-conf', s.dropIn, 'copy', `docker://${s.upstream.host}/test/img:v1`, `oci:${out}:v1`], { timeout: 60_000 });
  t.true(existsSync(join(out, 'blobs', s.manifestDigest.replace(':', '/'))), 'the same image (manifest digest) arrived');

  const viaMirror = requestsBy(s.mirror, /^skopeo\//);
  t.log('requests the stand-in mirror saw from skopeo:');
  for (const r of viaMirror) t.log(`  ${r}`);
  t.true(viaMirror.includes('GET /v2/test/img/manifests/v1'), 'the tag was read from the mirror, with no ?ns= (registries.conf cannot send one)');
  t.true(viaMirror.filter((r) => r.startsWith('GET /v2/test/img/blobs/sha256:')).length >= 2, 'config and layer came through the mirror');
  t.deepEqual(requestsBy(s.upstream, /^skopeo\//, pushed), [], 'skopeo never went to the registry itself');
});

test('d7y init podman: a rootful podman (vfs storage, its own root) pulls through the mirror', async (t) => {
  if (process.getuid?.() !== 0) throw new Error('this test runs podman rootful: run it as root');
  const s = await setUp(t, 'podman');
  const storage = join(s.work, 'podman');
  const podman = (args: string[]) => run('podman', [
    '--root', join(storage, 'root'), '--runroot', join(storage, 'runroot'), '--tmpdir', join(storage, 'tmp'),
    '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...args,
  ], { timeout: 90_000, env: { ...process.env, CONTAINERS_REGISTRIES_CONF: s.dropIn } });

  await podman(['pull', '--quiet', `${s.upstream.host}/test/img:v1`]);
  const digest = (await podman(['image', 'inspect', '--format', '{{.Digest}}', `${s.upstream.host}/test/img:v1`])).stdout.trim();
  t.is(digest, s.manifestDigest, 'podman holds the pushed image');
  const viaMirror = requestsBy(s.mirror, /^containers\//);
  t.true(viaMirror.includes('GET /v2/test/img/manifests/v1'), viaMirror.join('\n'));
  t.true(viaMirror.some((r) => r.startsWith('GET /v2/test/img/blobs/sha256:')), 'the layer came through the mirror');
  t.deepEqual(requestsBy(s.upstream, /^containers\//), [], 'podman never went to the registry itself');
});

test('d7y init cri-o writes the same drop-in and says to reload crio', async (t) => {
  const work = await tmpDir(t, 'd7y-init-crio-');
  const dir = join(work, 'containers');
  const first = await runCli(['init', 'cri-o', '--config-dir', dir]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /systemctl reload crio/);
  const conf = await readFile(join(dir, 'registries.conf.d/zz-d7y-mirror.conf'), 'utf8');
  t.regex(conf, /prefix = "docker\.io"\nlocation = "docker\.io"\n\n\[\[registry\.mirror\]\]\nlocation = "127\.0\.0\.1:4001"\ninsecure = true/);
  const again = await runCli(['init', 'crio', '--config-dir', dir]);
  t.regex(again.stdout, /nothing to change/);
  t.notRegex(again.stdout, /reload crio/);
});
