import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { cachedFixture } from '../support/artifact-fixture.js';
import { curl } from '../support/curl.js';
import { freePort } from '../support/env.js';
import { pushImage, startRegistry, type Registry } from '../support/registry.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster } from './p2p-cluster.js';

const run = promisify(execFile);

/** A peer with its registry mirror on a free port, sending every blob through the swarm. */
async function mirrorPeer(cluster: P2PCluster, scheduler: string, name: string, upstream: string): Promise<{ mirror: string; socket: string }> {
  const port = await freePort();
  const peer = await cluster.peer(name, {
    schedulers: [scheduler],
    peer: {
      proxy: { listen: { port }, registryMirror: { url: upstream } },
      download: { pieceLengthMin: 1024 * 1024, directMaxBytes: 0, stallMs: 2_000 },
    },
  });
  return { mirror: `127.0.0.1:${port}`, socket: peer.socket };
}

/** A registries.conf sending pulls of `registry` to `mirror` (both plain http). */
async function registriesConf(dir: string, name: string, registry: string, mirror: string): Promise<string> {
  const file = join(dir, `${name}-registries.conf`);
  await writeFile(file, `[[registry]]\nlocation = "${registry}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${mirror}"\ninsecure = true\n`);
  return file;
}

/** The config and layer digests of the image manifest skopeo wrote into an OCI layout. */
async function blobsOf(layout: string): Promise<string[]> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  return [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
}

/** Body bytes of the registry's successful blob GETs of `digest`. */
const servedBytes = (registry: Registry, digest: string): number => registry.requests()
  .filter((r) => r.method === 'GET' && r.uri.includes(`/blobs/${digest}`) && (r.status === 200 || r.status === 206))
  .reduce((sum, r) => sum + r.bytes, 0);

test('skopeo pulls one image through two peers\' mirrors: the registry serves each blob once, the second pull comes from the swarm', async (t) => {
  const registry = await startRegistry(t);
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:multi`, registry, 'test/img:v1', { all: true });
  const cluster = await P2PCluster.create(t, { sources: ['http', 'oci'] });
  const scheduler = await cluster.scheduler();
  await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const a = await mirrorPeer(cluster, scheduler.address, 'a', `http://${registry.host}`);
  const b = await mirrorPeer(cluster, scheduler.address, 'b', `http://${registry.host}`);

  for (const [name, peer] of [['a', a], ['b', b]] as const) {
    const conf = await registriesConf(cluster.dir, name, registry.host, peer.mirror);
    const out = join(cluster.dir, `out-${name}`);
    await t.notThrowsAsync(run('skopeo', ['--registries-conf', conf, 'copy', '--src-tls-verify=false', `docker://${registry.host}/test/img:v1`, `oci:${out}:v1`], { timeout: 120_000 }));
    for (const digest of await blobsOf(out)) {
      const bytes = await readFile(join(out, 'blobs/sha256', digest.slice(7)));
      t.is(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, digest, `${name}: ${digest} is byte-exact`);
    }
  }
  const blobs = await blobsOf(join(cluster.dir, 'out-a'));
  t.true(blobs.length >= 2);
  for (const digest of blobs) {
    const size = (await readFile(join(cluster.dir, 'out-a/blobs/sha256', digest.slice(7)))).length;
    t.is(servedBytes(registry, digest), size, `the registry served the ${size} bytes of ${digest} once for two pulls`);
    const again = await curl([`http://${b.mirror}/v2/test/img/blobs/${digest}`]);
    t.is(again.headers['x-dragonfly-task-download-finished'], 'true', `${digest} is held by peer b (it went through its mirror)`);
    t.is(again.headers['docker-content-digest'], digest);
  }
});

test('a token-auth registry through the mirror: an anonymous client gets the registry\'s challenge, skopeo with credentials pulls', async (t) => {
  const registry = await startRegistry(t, { token: { users: { alice: 'wonderland' }, anonymousPull: false } });
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:amd64`, registry, 'private/img:v1');
  const cluster = await P2PCluster.create(t, { sources: ['http', 'oci'] });
  const scheduler = await cluster.scheduler();
  await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const peer = await mirrorPeer(cluster, scheduler.address, 'p', `http://${registry.host}`);

  const anonymous = await curl([`http://${peer.mirror}/v2/private/img/manifests/v1?ns=${registry.host}`]);
  t.is(anonymous.status, 401, 'the registry\'s 401 passes through');
  t.regex(anonymous.headers['www-authenticate'] ?? '', /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token"/, 'with its challenge, so the client can get a token');
  const missing = await curl([`http://${peer.mirror}/v2/private/img/manifests/v1?ns=not%20a%20registry`]);
  t.is(missing.status, 400);
  t.regex(missing.body.toString(), /the ns query parameter "not a registry" is not a registry/);

  const conf = await registriesConf(cluster.dir, 'p', registry.host, peer.mirror);
  const out = join(cluster.dir, 'out');
  const refused = await run('skopeo', ['--registries-conf', conf, 'copy', '--src-tls-verify=false', `docker://${registry.host}/private/img:v1`, `oci:${out}:v1`], { timeout: 120_000 }).then(() => undefined, (e: Error) => e);
  t.truthy(refused, 'without credentials the pull is refused');
  // containers/image looks credentials up per endpoint: the mirror gets the registry's (as a user's auth.json would have them).
  const auth = { auth: Buffer.from('alice:wonderland').toString('base64') };
  const authFile = join(cluster.dir, 'auth.json');
  await writeFile(authFile, JSON.stringify({ auths: { [registry.host]: auth, [peer.mirror]: auth } }));
  await t.notThrowsAsync(run('skopeo', ['--registries-conf', conf, 'copy', '--src-tls-verify=false', '--authfile', authFile, `docker://${registry.host}/private/img:v1`, `oci:${out}:v1`], { timeout: 120_000 }));
  for (const digest of await blobsOf(out)) {
    const size = (await readFile(join(out, 'blobs/sha256', digest.slice(7)))).length;
    t.is(servedBytes(registry, digest), size, `${digest}: read once`);
  }
  const held = JSON.parse((await runCli(['task', 'ls', '--json', '--socket', peer.socket])).stdout) as { url?: string }[];
  for (const digest of await blobsOf(out)) t.true(held.some((task) => task.url?.endsWith(`/blobs/${digest}?insecure=true`)), `${digest} came through the mirror`);
});

test('a registry that redirects blob reads to object storage: the peer follows the redirect and the bytes match the digest', async (t) => {
  const blob = randomBytes(2 * 1024 * 1024 + 99);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const storage = await startOriginServer(t, { files: { '/bucket/blob': blob } });
  // A registry front that keeps its blobs in object storage, as registries on S3 or GCS do.
  const front = createServer((req, res) => {
    if (req.url === '/v2/' || req.url === '/v2') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (req.url === `/v2/team/app/blobs/${digest}`) return void res.writeHead(307, { location: storage.urlOf('/bucket/blob') }).end();
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => { front.close(() => resolve()); front.closeAllConnections(); }));
  const cluster = await P2PCluster.create(t, { sources: ['http', 'oci'] });
  const scheduler = await cluster.scheduler();
  await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const peer = await mirrorPeer(cluster, scheduler.address, 'p', 'https://registry.invalid');
  const got = await curl(['-H', `X-Dragonfly-Registry: http://127.0.0.1:${(front.address() as AddressInfo).port}`, `http://${peer.mirror}/v2/team/app/blobs/${digest}`]);
  t.is(got.status, 200, got.body.toString().slice(0, 300));
  t.true(got.body.equals(blob), 'byte-exact');
  t.truthy(got.headers['x-dragonfly-task-id'], 'through the swarm');
  t.true(storage.served.bytes >= blob.length && storage.served.bytes < blob.length * 1.1, 'object storage served the blob about once');
});
