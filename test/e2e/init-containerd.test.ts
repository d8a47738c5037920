import test from 'ava';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedFixture } from '../support/artifact-fixture.js';
import { startContainerd, writeContainerdConfig } from '../support/containerd.js';
import { freePort } from '../support/env.js';
import { pushImage, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

/** An upstream registry holding test/img:v1 (one linux/amd64 image, one ~1.5 MiB layer). */
async function upstreamWithImage(t: Parameters<typeof startRegistry>[0]) {
  const upstream = await startRegistry(t);
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:amd64`, upstream, 'test/img:v1');
  return upstream;
}

test('d7y init containerd: ctr pulls from any registry through the mirror (the _default catch-all), which learns the registry from ?ns=', async (t) => {
  const upstream = await upstreamWithImage(t);
  const mirrorPort = await freePort();
  const mirror = await startRegistry(t, { pullThrough: `http://${upstream.host}`, port: mirrorPort });
  const files = await writeContainerdConfig(t);
  const certsDir = join(files.dir, 'certs.d');

  const init = await runCli(['init', 'containerd', '--config-dir', certsDir, '--containerd-config', files.configFile, '--proxy', `127.0.0.1:${mirrorPort}`]);
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /created\s+.*certs\.d\/_default\/hosts\.toml/);
  t.regex(init.stdout, /updated\s+.*config\.toml\s+\(old file kept as .*config\.toml\.d7y-backup-\d{8}T\d{6}Z\)/);
  t.regex(init.stdout, /systemctl restart containerd/);
  const config = await readFile(files.configFile, 'utf8');
  t.true(config.includes(`config_path = "${certsDir}"`), config);
  t.true(config.includes(`root = "${files.dir}/root"`), 'the other settings of config.toml are kept');

  // containerd starts with the merged config, and its CRI plugin accepts the registry settings.
  const containerd = await startContainerd(t, files);
  const plugins = (await containerd.ctr(['plugins', 'ls'])).stdout;
  t.regex(plugins, /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/, plugins);

  // No --plain-http: the registry itself would be tried over https and fail, so only the mirror can serve the pull.
  const ref = `${upstream.host}/test/img:v1`;
  await containerd.ctr(['images', 'pull', '--hosts-dir', certsDir, ref]);
  t.true((await containerd.ctr(['images', 'ls', '-q'])).stdout.split('\n').includes(ref), 'the image is in containerd');

  const seen = mirror.requests().filter((r) => r.uri.startsWith('/v2/test/'));
  t.log('requests the stand-in mirror saw from containerd:');
  for (const r of seen) t.log(`  ${r.method} ${r.uri}  (${r.userAgent})`);
  const ns = `ns=${encodeURIComponent(upstream.host)}`;
  t.true(seen.some((r) => /^\/v2\/test\/img\/manifests\/v1\?/.test(r.uri) && r.uri.includes(ns)), 'the tag was resolved through the mirror with ?ns=');
  t.true(seen.filter((r) => r.method === 'GET' && r.uri.includes('/blobs/sha256:')).length >= 2, 'config and layer came through the mirror');
  t.true(seen.every((r) => r.uri.endsWith(ns)), 'every request names its registry in ?ns=');
  t.true(upstream.requests().every((r) => !/containerd/.test(r.userAgent)), 'containerd never went to the registry itself');
});

test('d7y init containerd --registry: the mirror gets X-Dragonfly-Registry, and a mirror without the image falls back to the registry', async (t) => {
  const upstream = await upstreamWithImage(t);
  // A mirror that has nothing: it records what containerd sends and answers 404.
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  const mirror = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not here"}]}');
  });
  const mirrorPort = await freePort();
  await new Promise<void>((res) => mirror.listen(mirrorPort, '127.0.0.1', res));
  t.teardown(() => new Promise<void>((res) => { mirror.close(() => res()); mirror.closeAllConnections(); }));
  const files = await writeContainerdConfig(t);
  const certsDir = join(files.dir, 'certs.d');

  const init = await runCli(['init', 'containerd', '--config-dir', certsDir, '--containerd-config', files.configFile,
    '--proxy', `127.0.0.1:${mirrorPort}`, '--registry', `http://${upstream.host}`]);
  t.is(init.code, 0, init.stderr);
  const hosts = await readFile(join(certsDir, upstream.host, 'hosts.toml'), 'utf8');
  t.true(hosts.includes(`server = "http://${upstream.host}"`), hosts);

  const containerd = await startContainerd(t, files);
  const ref = `${upstream.host}/test/img:v1`;
  await containerd.ctr(['images', 'pull', '--hosts-dir', certsDir, ref]);
  t.true((await containerd.ctr(['images', 'ls', '-q'])).stdout.split('\n').includes(ref), 'the pull fell back to the registry');

  t.true(seen.length > 0, 'containerd asked the mirror first');
  t.true(seen.every((r) => r.headers['x-dragonfly-registry'] === `http://${upstream.host}`), JSON.stringify(seen.map((r) => [r.url, r.headers['x-dragonfly-registry']])));
  t.true(seen.some((r) => r.url.includes(`ns=${encodeURIComponent(upstream.host)}`)), 'the ?ns= query is sent too');
  t.true(upstream.requests().some((r) => /containerd/.test(r.userAgent) && r.uri.startsWith('/v2/test/img/blobs/')), 'the blobs came from the registry');
});
