import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ManagerClient, type JobView } from '../../core/protocol/manager/index.js';
import { cachedFixture } from '../support/artifact-fixture.js';
import { freePort } from '../support/env.js';
import { pushImage, startRegistry } from '../support/registry.js';
import { runCli, startCli, waitForOutput } from '../support/run-cli.js';
import { P2PCluster } from '../e2e/p2p-cluster.js';
import { startManagerProcess } from './manager-harness.js';

test('an image preheat resolves the manifest URL to its blobs through the oci source and warms them on the seed peer', async (t) => {
  t.timeout(150_000);
  const registry = await startRegistry(t);
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:amd64`, registry, 'test/img:v1');
  const cluster = await P2PCluster.create(t);
  await writeFile(cluster.pluginsFile, JSON.stringify({
    plugins: [{ name: 'http' }, { name: 'oci' }, { name: 'disk' }, { name: 'default' }],
    scheduler: { evaluator: 'default' },
  }));
  const { process: manager, url, root } = await startManagerProcess(t, { dir: cluster.dir, pluginsFile: cluster.pluginsFile, security: cluster.secrets });
  const { token } = await root.createToken({ name: 'image-e2e', scopes: ['job', 'cluster'] });

  const schedulerConfig = join(cluster.dir, 'scheduler.json');
  await writeFile(schedulerConfig, JSON.stringify({
    dataDir: join(cluster.dir, 'scheduler'), pluginsFile: cluster.pluginsFile, log: { level: 'warn' }, security: cluster.secrets,
    scheduler: {
      listen: { host: '127.0.0.1', port: await freePort() },
      manager: { url, token, keepaliveIntervalMs: 1_000, jobPollIntervalMs: 300 },
    },
  }));
  await waitForOutput(startCli(t, ['scheduler', '--config', schedulerConfig]), /d7y: ready/, 60_000);
  const seed = await cluster.peer('seed', { seed: true, schedulers: [], peer: { manager: { url, token, keepaliveIntervalMs: 1_000 } } });

  const manifestUrl = `http://${registry.host}/v2/test/img/manifests/v1`;
  const pre = await runCli(['preheat', manifestUrl, '--type', 'image', '--platform', 'linux/amd64', '--scope', 'single_seed_peer', '--wait', '--json', '--timeout', '90s'],
    { env: { D7Y_MANAGER_URL: url, D7Y_TOKEN: token }, timeoutMs: 120_000 });
  t.is(pre.code, 0, pre.stderr);
  const job = JSON.parse(pre.stdout) as JobView;
  t.is(job.state, 'succeeded');
  const blobUrls = job.results.map((r) => r.url!);
  t.true(blobUrls.length >= 3, `manifest, config and at least one layer were preheated (${blobUrls.length})`);
  t.true(blobUrls.every((u) => u.startsWith(`oci://${registry.host}/test/img`) && /sha256:[0-9a-f]{64}/.test(u)), `every URL names a blob of the image by digest: ${blobUrls.join(" ")}`);
  t.deepEqual([...new Set(job.results.map((r) => r.hostname))], ['seed'], 'the seed peer did the work');

  const held = await cluster.client(seed).list();
  for (const u of blobUrls) {
    const task = held.find((x) => x.url === u);
    t.is(task?.finished, true, `the seed peer holds ${u}`);
  }
});
