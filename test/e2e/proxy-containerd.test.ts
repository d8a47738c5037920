import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { cachedFixture } from '../support/artifact-fixture.js';
import { startContainerd, writeContainerdConfig } from '../support/containerd.js';
import { freePort } from '../support/env.js';
import { pushImage, startRegistry, type Registry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster } from './p2p-cluster.js';

const run = promisify(execFile);

/** A node (scheduler, seed peer, peer with its mirror) and a containerd configured by `d7y init containerd` to pull through it. */
async function containerdThroughD7y(t: Parameters<typeof P2PCluster.create>[0]) {
  const { port, socket } = await mirrorNode(t);
  const files = await writeContainerdConfig(t);
  const certsDir = join(files.dir, 'certs.d');
  const init = await runCli(['init', 'containerd', '--config-dir', certsDir, '--containerd-config', files.configFile, '--proxy', `127.0.0.1:${port}`]);
  t.is(init.code, 0, init.stderr);
  const containerd = await startContainerd(t, files);
  return { containerd, certsDir, socket };
}

/** A scheduler, a seed peer and a peer whose mirror sends every blob through the swarm (its default upstream: `upstream`). */
async function mirrorNode(t: Parameters<typeof P2PCluster.create>[0], upstream?: string): Promise<{ port: number; socket: string; dir: string }> {
  const cluster = await P2PCluster.create(t, { sources: ['http', 'oci'] });
  const scheduler = await cluster.scheduler();
  await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const port = await freePort();
  const peer = await cluster.peer('peer', {
    schedulers: [scheduler.address],
    peer: {
      proxy: { listen: { port }, ...(upstream ? { registryMirror: { url: upstream } } : {}) },
      download: { pieceLengthMin: 1024 * 1024, directMaxBytes: 0, stallMs: 2_000 },
    },
  });
  return { port, socket: peer.socket, dir: cluster.dir };
}

/** Blob digests the registry answered for a client whose user agent matches `agent`. */
const blobReads = (registry: Registry, agent: RegExp): string[] => registry.requests()
  .filter((r) => r.method === 'GET' && r.uri.includes('/blobs/sha256:') && agent.test(r.userAgent))
  .map((r) => r.uri);

async function heldBlobs(socket: string): Promise<string[]> {
  const ls = await runCli(['task', 'ls', '--json', '--socket', socket]);
  return (JSON.parse(ls.stdout) as { url?: string }[]).map((task) => /\/blobs\/(sha256:[0-9a-f]{64})/.exec(task.url ?? '')?.[1] ?? '').filter(Boolean);
}

test('containerd pulls a multi-platform image through d7y\'s mirror: layers through the swarm, containerd never at the registry', async (t) => {
  const registry = await startRegistry(t);
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:multi`, registry, 'test/img:v1', { all: true });
  const { containerd, certsDir, socket } = await containerdThroughD7y(t);
  const ref = `${registry.host}/test/img:v1`;
  // No --plain-http: the registry itself would be tried over https and fail, so only the mirror can serve the pull.
  await containerd.ctr(['images', 'pull', '--hosts-dir', certsDir, ref]);
  t.true((await containerd.ctr(['images', 'ls', '-q'])).stdout.split('\n').includes(ref), 'the image is in containerd, unpacked');
  t.deepEqual(blobReads(registry, /containerd/), [], 'containerd never read a blob from the registry itself');
  const held = await heldBlobs(socket);
  const read = [...new Set(blobReads(registry, /^/).map((u) => /sha256:[0-9a-f]{64}/.exec(u)![0]))];
  t.true(read.length >= 2, 'the config and the layer of linux/amd64 were read');
  for (const digest of read) t.true(held.includes(digest), `${digest} went through the peer`);
});

test('containerd pulls from a token-auth registry through d7y\'s mirror with ctr --user; without it the registry\'s refusal comes back', async (t) => {
  const registry = await startRegistry(t, { token: { users: { alice: 'wonderland' }, anonymousPull: false } });
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:amd64`, registry, 'private/img:v1');
  const { containerd, certsDir, socket } = await containerdThroughD7y(t);
  const ref = `${registry.host}/private/img:v1`;
  const refused = await containerd.ctr(['images', 'pull', '--hosts-dir', certsDir, ref]).then(() => '', (e: { stderr: string }) => e.stderr);
  t.regex(refused, /401|unauthorized|authoriz/i, 'anonymous: refused');
  await containerd.ctr(['images', 'pull', '--hosts-dir', certsDir, '--user', 'alice:wonderland', ref]);
  t.true((await containerd.ctr(['images', 'ls', '-q'])).stdout.split('\n').includes(ref));
  t.true((await heldBlobs(socket)).length >= 2, 'the blobs went through the peer, with alice\'s token');
});

test('podman (rootful, vfs) pulls through d7y\'s mirror with the registries.conf d7y init podman wrote', async (t) => {
  if (process.getuid?.() !== 0) throw new Error('this test runs podman rootful: run it as root');
  const registry = await startRegistry(t);
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:amd64`, registry, 'test/img:v1');
  const { port, socket, dir } = await mirrorNode(t, `http://${registry.host}`);
  const init = await runCli(['init', 'podman', '--config-dir', join(dir, 'containers'), '--proxy', `127.0.0.1:${port}`, '--registry', `http://${registry.host}`]);
  t.is(init.code, 0, init.stderr);
  const storage = join(dir, 'podman');
  await run('podman', [
    '--root', join(storage, 'root'), '--runroot', join(storage, 'runroot'), '--tmpdir', join(storage, 'tmp'),
    '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', 'pull', '--quiet', `${registry.host}/test/img:v1`,
  ], { timeout: 120_000, env: { ...process.env, CONTAINERS_REGISTRIES_CONF: join(dir, 'containers/registries.conf.d/zz-d7y-mirror.conf') } });
  t.deepEqual(blobReads(registry, /^containers\//), [], 'podman never read a blob from the registry itself');
  const held = await heldBlobs(socket);
  const read = [...new Set(blobReads(registry, /^/).map((u) => /sha256:[0-9a-f]{64}/.exec(u)![0]))];
  t.true(read.length >= 2);
  for (const digest of read) t.true(held.includes(digest), `${digest} went through the peer`);
});
