import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ManagerClient, type JobView } from '../../core/protocol/manager/index.js';
import { freePort } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, startCli, waitForOutput } from '../support/run-cli.js';
import { P2PCluster, testBytes, type DaemonProcess } from '../e2e/p2p-cluster.js';
import { startManagerProcess } from './manager-harness.js';

const MIB = 1024 * 1024;
const READY = /d7y: ready/;

/** Polls `check` every 200 ms until it holds or `ms` pass. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

test('a manager-driven preheat warms exactly 50 % of 4 real peers, a later get there is a local hit, delete_task clears every peer, load_to_memory lands in memory', async (t) => {
  t.timeout(180_000);
  const cluster = await P2PCluster.create(t);
  await writeFile(cluster.pluginsFile, JSON.stringify({
    plugins: [{ name: 'http' }, { name: 'disk' }, { name: 'memory' }, { name: 'default' }],
    scheduler: { evaluator: 'default' },
  }));
  const origin = await startOriginServer(t, { files: { '/big.bin': testBytes(3 * MIB, 11), '/hot.bin': testBytes(2 * MIB + 7, 12) } });

  const { process: manager, url, root } = await startManagerProcess(t, { dir: cluster.dir, pluginsFile: cluster.pluginsFile, security: cluster.secrets });
  const { token } = await root.createToken({ name: 'e2e', scopes: ['job', 'cluster'] });
  const api = new ManagerClient({ url, token });
  t.teardown(() => api.close());

  const schedulerPort = await freePort();
  const schedulerConfig = join(cluster.dir, 'scheduler.json');
  await writeFile(schedulerConfig, JSON.stringify({
    dataDir: join(cluster.dir, 'scheduler'), pluginsFile: cluster.pluginsFile, log: { level: 'warn' }, security: cluster.secrets,
    scheduler: {
      listen: { host: '127.0.0.1', port: schedulerPort },
      manager: { url, token, cluster: 'edge', keepaliveIntervalMs: 1_000, jobPollIntervalMs: 300 },
    },
  }));
  const scheduler = startCli(t, ['scheduler', '--config', schedulerConfig]);
  await waitForOutput(scheduler, READY, 60_000);
  t.true(await until(async () => (await api.schedulersFor({ ip: '127.0.0.1' })).schedulers.length === 1, 20_000), 'the scheduler registered');

  const viaManager = { manager: { url, token, cluster: 'seeds', keepaliveIntervalMs: 1_000, schedulerRefreshMs: 5_000 } };
  const seed = await cluster.peer('seed', { seed: true, schedulers: [], peer: viaManager });
  const peers: DaemonProcess[] = [];
  for (let i = 0; i < 4; i++) peers.push(await cluster.peer(`p${i}`, { schedulers: [], peer: viaManager }));
  const clients = peers.map((p) => cluster.client(p));
  const described = await clients[0]!.peer();
  t.deepEqual([described.schedulers, described.schedulersFrom], [[`127.0.0.1:${schedulerPort}`], 'manager'], 'the peer took its scheduler from the manager');
  const seeds = await api.call<{ hostname: string; state: string }[]>('GET', '/oapi/v1/seed-peers');
  t.deepEqual(seeds.map((s) => [s.hostname, s.state]), [['seed', 'active']], 'the seed peer registered with the manager');

  const env = { D7Y_MANAGER_URL: url, D7Y_TOKEN: token };
  const bigUrl = origin.urlOf('/big.bin');
  const pre = await runCli(['preheat', bigUrl, '--scope', 'all_peers', '--percentage', '50', '--wait', '--json', '--timeout', '90s'], { env, timeoutMs: 120_000 });
  t.is(pre.code, 0, pre.stderr);
  const job = JSON.parse(pre.stdout) as JobView;
  t.is(job.state, 'succeeded');
  const warmed = job.results.filter((r) => r.state === 'succeeded').map((r) => r.hostname).sort();
  t.deepEqual(warmed, ['p0', 'p1'], 'exactly 2 of the 4 peers were warmed');
  const taskId = String(((await clients[0]!.list())[0] ?? {}).taskId);
  t.regex(taskId, /^[0-9a-f]{64}$/);
  const held = await Promise.all(clients.map((c) => c.stat(taskId).then((s) => s.finished === true, () => false)));
  t.deepEqual(held, [true, true, false, false], 'only the warmed peers hold the task');
  const originBytes = origin.served.bytes;
  t.true(originBytes >= 3 * MIB && originBytes < 6 * MIB, `the origin served the file about once (${originBytes} bytes)`);

  const out = join(cluster.dir, 'big.out');
  const got = await runCli(['get', bigUrl, '-O', out, '--socket', peers[1]!.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(got.code, 0, got.stderr);
  t.is(origin.served.bytes, originBytes, 'the get on a warmed peer was a local hit: the origin served nothing more');

  const del = await api.createJob({ type: 'delete_task', args: { task_id: taskId } });
  t.true(await until(async () => ['succeeded', 'failed'].includes((await api.getJob(del.id)).state), 30_000), 'the delete_task job ends');
  t.is((await api.getJob(del.id)).state, 'succeeded');
  for (const [i, c] of [cluster.client(seed), ...clients].entries()) {
    const err = await t.throwsAsync(c.stat(taskId));
    t.is((err as { code?: string }).code, 'D7Y_TASK_NOT_FOUND', `the task is gone from daemon ${i}`);
  }

  const hotUrl = origin.urlOf('/hot.bin');
  const mem = await runCli(['preheat', hotUrl, '--scope', 'all_peers', '--count', '1', '--memory', '--wait', '--json', '--timeout', '90s'], { env, timeoutMs: 120_000 });
  t.is(mem.code, 0, mem.stderr);
  const memJob = JSON.parse(mem.stdout) as JobView;
  t.deepEqual(memJob.results.map((r) => [r.hostname, r.state]), [['p0', 'succeeded']]);
  const hot = (await clients[0]!.list()).find((x) => x.url === hotUrl);
  t.truthy(hot, 'the chosen peer lists the preheated task');
  const stat = await clients[0]!.stat(String(hot!.taskId));
  t.deepEqual([stat.medium, stat.finished], ['memory', true], 'the load_to_memory preheat put the pieces in the memory medium');
  const before = origin.served.bytes;
  const hotOut = join(cluster.dir, 'hot.out');
  const hotGet = await runCli(['get', hotUrl, '-O', hotOut, '--socket', peers[0]!.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(hotGet.code, 0, hotGet.stderr);
  t.is(origin.served.bytes, before, 'a get finds the task in memory');
});
