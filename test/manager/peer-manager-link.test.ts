import '../../core/metadata-polyfill.js';
import test from 'ava';
import { silentLogger } from '../../core/logging/logger.js';
import { PeerConfigSchema } from '../../core/config/peer-config.js';
import { NodeConfigSchema } from '../../core/config/node-config.js';
import { SourceRouter } from '../../core/registry/source-router.js';
import { PeerRole } from '../../core/roles/peer/peer-role.js';
import { StorageRegistry } from '../../core/registry/storage-registry.js';
import { createMetricsRegistry } from '../../core/metrics/metrics.js';
import { ManagerDiscovery, type DiscoveryHost } from '../../core/roles/peer/cluster/manager-discovery.js';
import { TaskMediumRouter } from '../../core/roles/peer/tasks/task-medium-router.js';
import { DiskStorage } from '../../storage/disk/disk-storage.js';
import { MemoryStorage } from '../../storage/memory/memory-storage.js';
import { freePort, tmpDir } from '../support/env.js';
import { startManager } from './manager-harness.js';

const host: DiscoveryHost = { hostname: 'edge-7', ip: '127.0.0.1', idc: 'idc-a', location: '', rpcPort: 4100, uploadPort: 4105 };

function managerConfig(url: string, token?: string) {
  return PeerConfigSchema.parse({ manager: { url, token, keepaliveIntervalMs: 200, schedulerRefreshMs: 1_000 } }).manager!;
}

test('a peer takes its schedulers from the manager and follows a change', async (t) => {
  const m = await startManager(t);
  const { token } = await m.root.createToken({ name: 'peers', scopes: ['cluster'] });
  const pat = m.client(token);
  await pat.registerScheduler({ cluster: 'c1', hostname: 's1', ip: '127.0.0.1', port: 9001 });
  const seen: string[][] = [];
  const discovery = new ManagerDiscovery({
    config: managerConfig(m.url, token), fallback: ['127.0.0.1:8002'], host: () => host,
    onSchedulers: (a) => seen.push(a), logger: silentLogger(),
  });
  t.teardown(() => discovery.stop());
  t.deepEqual(await discovery.resolve(), ['127.0.0.1:9001']);
  t.is(discovery.origin, 'manager');
  await discovery.start();

  await pat.registerScheduler({ cluster: 'c1', hostname: 's2', ip: '127.0.0.1', port: 9002 });
  t.true(await discovery.refresh());
  t.deepEqual(seen.at(-1), ['127.0.0.1:9001', '127.0.0.1:9002'], 'a second scheduler of the cluster is picked up');
  t.deepEqual(discovery.schedulers, ['127.0.0.1:9001', '127.0.0.1:9002']);
});

test('an unreachable manager leaves the static schedulers in use', async (t) => {
  const port = await freePort();
  const discovery = new ManagerDiscovery({
    config: managerConfig(`http://127.0.0.1:${port}`, 'd7y_not-a-token'), fallback: ['127.0.0.1:8002'], host: () => host,
    onSchedulers: () => t.fail('no list from a manager that is down'), logger: silentLogger(), timeoutMs: 2_000,
  });
  t.teardown(() => discovery.stop());
  t.deepEqual(await discovery.resolve(), ['127.0.0.1:8002']);
  t.is(discovery.origin, 'static');
  t.false(await discovery.refresh());
});

test('a task placed in memory lives there and is found and deleted there; a medium that is not loaded is a clear error', async (t) => {
  const dir = await tmpDir(t, 'd7y-router-');
  const registry = new StorageRegistry();
  const disk = new DiskStorage({ dir, logger: silentLogger() });
  registry.add(disk);
  const router = new TaskMediumRouter(disk, registry, silentLogger());
  await router.start();
  t.teardown(() => router.stop());
  const missing = await t.throwsAsync(router.place('a'.repeat(64), 'memory'));
  t.is((missing as { code?: string }).code, 'D7Y_MISSING_DEPENDENCY');
  t.regex(missing!.message, /"memory" storage medium/);
  t.regex((missing as { fix?: string }).fix ?? '', /enable the "memory" storage plugin/);

  registry.add(new MemoryStorage({ capacity: 1024 * 1024 }));
  const id = 'b'.repeat(64);
  await router.place(id, 'memory');
  await router.putTask({ taskId: id, contentLength: 5, pieceLength: 1024 });
  await router.writePiece(id, { number: 0, offset: 0, length: 5 }, Buffer.from('hello'));
  t.is(router.mediumOf(id), 'memory');
  t.is(await disk.getTask(id), undefined, 'nothing of it on disk');
  t.is((await router.getTask(id))?.contentLength, 5);
  t.deepEqual((await router.listTasks()).map((r) => r.taskId), [id]);
  await router.deleteTask(id);
  t.is(await router.getTask(id), undefined);
  t.is(router.mediumOf(id), 'disk', 'a new task of that id goes to the peer\'s own medium again');
});

test('a peer applies its cluster\'s client config from the manager (concurrency, rate limit) without a restart', async (t) => {
  const m = await startManager(t);
  const { token } = await m.root.createToken({ name: 'peers', scopes: ['cluster'] });
  const pat = m.client(token);
  const reg = await pat.registerScheduler({ cluster: 'c9', hostname: 's1', ip: '127.0.0.1', port: 9001 });
  const seen: Record<string, unknown>[] = [];
  const discovery = new ManagerDiscovery({
    config: managerConfig(m.url, token), fallback: [], host: () => host,
    onSchedulers: () => undefined, onClientConfig: (c) => seen.push(c), logger: silentLogger(),
  });
  t.teardown(() => discovery.stop());
  t.true(await discovery.refresh());
  t.deepEqual(seen, [], 'an empty client config changes nothing');
  await pat.call('PATCH', `/oapi/v1/clusters/${reg.cluster_id}`, { client_config: { download: { concurrency: 3, rateLimit: 1048576 } } });
  t.true(await discovery.refresh());
  t.true(await discovery.refresh());
  t.deepEqual(seen, [{ download: { concurrency: 3, rateLimit: 1048576 } }], 'applied once, when it changed');

  const dir = await tmpDir(t);
  const config = NodeConfigSchema.parse({ dataDir: dir });
  const peer = new PeerRole(config, silentLogger(), new SourceRouter(), new StorageRegistry(), createMetricsRegistry());
  peer.applyClientConfig(seen[0]!);
  t.deepEqual(peer.describe().download, { concurrency: 3, rateLimit: 1048576 });
  peer.applyClientConfig({ download: { concurrency: 99, rateLimit: -1 } });
  t.deepEqual(peer.describe().download, { concurrency: 3, rateLimit: 1048576 }, 'out-of-range values are ignored');
});
