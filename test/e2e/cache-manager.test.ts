import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ManagerCacheTaskView } from '../../core/protocol/manager/index.js';
import { freePort, tmpDir } from '../support/env.js';
import { runCli, startCli, waitForOutput } from '../support/run-cli.js';
import { P2PCluster, testBytes, type DaemonProcess } from './p2p-cluster.js';

const ROOT_PASSWORD = 'cache-root-password-1';
const MIB = 1024 * 1024;
const PEER = { persistentCache: { announceInterval: '500ms' } };

/** A `d7y manager` process with its own data dir. */
async function startManager(t: ExecutionContext): Promise<string> {
  const home = await tmpDir(t);
  const port = await freePort();
  const file = join(home, 'manager.json');
  await writeFile(file, JSON.stringify({ dataDir: join(home, 'data'), log: { level: 'warn' }, manager: { listen: { host: '127.0.0.1', port }, rootPassword: ROOT_PASSWORD } }));
  await waitForOutput(startCli(t, ['manager', '-c', file]), /d7y: ready: manager/, 60_000);
  return `http://127.0.0.1:${port}`;
}

const noManagerEnv = { D7Y_MANAGER_URL: '', D7Y_TOKEN: '', D7Y_SESSION_TOKEN: '' };

async function createToken(url: string, name: string, scopes: string): Promise<string> {
  const r = await runCli(['token', 'create', name, '--scope', scopes, '--user', 'root', '--manager', url, '--json'], { env: { ...noManagerEnv, D7Y_PASSWORD: ROOT_PASSWORD } });
  if (r.code !== 0) throw new Error(`d7y token create failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { token: string }).token;
}

async function oapi(url: string, token: string, method: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/oapi/v1${path}`, { method, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: JSON.parse(await res.text()) as unknown };
}

async function until<T>(what: string, ms: number, get: () => Promise<T | undefined>): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await delay(200);
  }
}

const heldBy = async (peers: DaemonProcess[], id: string): Promise<string[]> => {
  const out: string[] = [];
  for (const p of peers) if ((await readdir(join(p.dataDir, 'persistent-cache'))).includes(`${id}.json`)) out.push(p.name);
  return out;
};

test('the manager lists and inspects the persistent-cache tasks its schedulers report, with their holders; a delete through the open API and one through d7y cache rm --manager remove every copy; the scope is enforced', async (t) => {
  t.timeout(240_000);
  const url = await startManager(t);
  const schedulerToken = await createToken(url, 'scheduler', 'cluster,job');
  const userToken = await createToken(url, 'ops', 'persistent_cache');
  const jobOnly = await createToken(url, 'preheat-only', 'job');

  const c = await P2PCluster.create(t);
  const scheduler = await c.scheduler('scheduler', {
    persistentCache: { checkInterval: 500, holderTtl: 3_000 },
    manager: { url, token: schedulerToken, cluster: 'edge', keepaliveInterval: '500ms', jobPollInterval: '500ms', persistentCacheReportInterval: '300ms' },
  });
  const peers: DaemonProcess[] = [];
  for (const name of ['a', 'b', 'c']) peers.push(await c.peer(name, { schedulers: [scheduler.address], peer: PEER }));

  const imports: string[] = [];
  for (const [i, seed] of [21, 22].entries()) {
    const file = join(c.dir, `model-${i}.bin`);
    await writeFile(file, testBytes(4 * MIB + i, seed));
    const r = await runCli(['cache', 'import', file, '--replicas', '2', '--ttl', '1h', '--socket', peers[i]!.socket], { timeoutMs: 60_000 });
    t.is(r.code, 0, r.stderr);
    imports.push(r.stdout.trim());
  }
  const [first, second] = imports as [string, string];

  // The manager learns both tasks, each with its two replicas and the hosts holding them.
  const listed = await until('both tasks listed with two replicas', 30_000, async () => {
    const r = await oapi(url, userToken, 'GET', '/persistent-cache-tasks');
    const tasks = r.body as ManagerCacheTaskView[];
    return tasks.length === 2 && tasks.every((x) => x.current_persistent_replica_count === 2) ? tasks : undefined;
  });
  t.deepEqual(listed.map((x) => x.task_id).sort(), [...imports].sort());
  const one = (await oapi(url, userToken, 'GET', `/persistent-cache-tasks/${first}`)).body as ManagerCacheTaskView;
  t.is(one.content_length, 4 * MIB);
  t.is(one.persistent_replica_count, 2);
  t.is(one.ttl, 3_600_000 * 1_000_000, 'ttl in nanoseconds, as Dragonfly\'s manager gives it');
  t.regex(one.digest, /^sha256:[0-9a-f]{64}$/);
  t.is(one.persistent_cache_peers.length, 2);
  t.true(one.persistent_cache_peers.some((p) => p.host.hostname === 'a'), 'the importing peer is a holder');
  t.deepEqual(one.persistent_cache_peers.map((p) => p.host.hostname).sort(), await heldBy(peers, first), 'the holders listed are the peers holding a copy');
  for (const p of one.persistent_cache_peers) t.is(p.host.ip, '127.0.0.1');

  const cliList = await runCli(['cache', 'list', '--manager', url, '--token', userToken, '--json'], { env: noManagerEnv });
  t.is(cliList.code, 0, cliList.stderr);
  t.deepEqual((JSON.parse(cliList.stdout) as ManagerCacheTaskView[]).map((x) => x.task_id).sort(), [...imports].sort());
  const cliStat = await runCli(['cache', 'stat', second, '--manager', url, '--token', userToken], { env: noManagerEnv });
  t.is(cliStat.code, 0, cliStat.stderr);
  t.regex(cliStat.stdout, /replicas\s+2 of 2/);
  t.regex(cliStat.stdout, /holders\s+.*\(127\.0\.0\.1\)/);

  // Refusals: a token without the scope, an unknown id, a malformed id, a stray flag.
  const refused = await oapi(url, jobOnly, 'GET', '/persistent-cache-tasks');
  t.is(refused.status, 403);
  t.regex((refused.body as { message: string }).message, /lacks the "persistent_cache" scope/);
  t.regex((refused.body as { fix: string }).fix, /scope persistent_cache/);
  const cliRefused = await runCli(['cache', 'rm', first, '--manager', url, '--token', jobOnly], { env: noManagerEnv });
  t.not(cliRefused.code, 0);
  t.regex(cliRefused.stderr, /persistent_cache/);
  t.deepEqual(await heldBy(peers, first), one.persistent_cache_peers.map((p) => p.host.hostname).sort(), 'a refused delete removes nothing');
  const unknown = randomBytes(32).toString('hex');
  const missing = await oapi(url, userToken, 'GET', `/persistent-cache-tasks/${unknown}`);
  t.is(missing.status, 404);
  t.regex((missing.body as { message: string }).message, new RegExp(`no persistent cache task ${unknown}`));
  t.is((await oapi(url, userToken, 'DELETE', `/persistent-cache-tasks/${unknown}`)).status, 404);
  const malformed = await oapi(url, userToken, 'GET', '/persistent-cache-tasks/not-an-id');
  t.is(malformed.status, 400);
  t.regex((malformed.body as { message: string }).message, /64 lower-case hex/);
  const stray = await runCli(['cache', 'list', '--token', userToken, '--socket', peers[0]!.socket], { env: noManagerEnv });
  t.not(stray.code, 0);
  t.regex(stray.stderr, /--token goes with --manager/);

  // A delete through the open API: every copy goes, and the id then reads as deleted.
  const deleted = await oapi(url, userToken, 'DELETE', `/persistent-cache-tasks/${first}`);
  t.is(deleted.status, 200, JSON.stringify(deleted.body));
  t.is((deleted.body as { state: string }).state, 'deleted');
  t.deepEqual(await heldBy(peers, first), [], 'no peer holds the deleted task');
  const gone = await oapi(url, userToken, 'GET', `/persistent-cache-tasks/${first}`);
  t.is(gone.status, 404);
  t.regex((gone.body as { message: string }).message, /was deleted/);
  const local = await runCli(['cache', 'stat', first, '--socket', peers[2]!.socket]);
  t.regex(local.stderr, /was deleted/, 'the scheduler knows it was deleted too');

  // A delete through the CLI.
  const rm = await runCli(['cache', 'rm', second, '--manager', url, '--token', userToken], { env: noManagerEnv, timeoutMs: 60_000 });
  t.is(rm.code, 0, rm.stderr);
  t.regex(rm.stdout, new RegExp(`removed ${second} from every scheduler cluster`));
  t.deepEqual(await heldBy(peers, second), []);
  t.deepEqual((await oapi(url, userToken, 'GET', '/persistent-cache-tasks')).body, []);
});
