import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { taskId } from '../../core/index.js';
import { HashRing } from '../../core/protocol/rpc/hash-ring.js';
import { startOrigin } from '../../bench/support/origin-server.js';
import { run, startProcess, stopProcess, waitUntil, type BenchProcess } from '../../bench/support/processes.js';
import { Teardown } from '../../bench/support/teardown.js';
import { ClusterLab, clusterLabUnavailable } from '../support/cluster-lab.js';
import { d7yBin, repoRoot, tmpDir } from '../support/env.js';
import { PG_BIN } from '../support/postgres.js';
import { runCli } from '../support/run-cli.js';
import { LocalApiClient } from '../../core/protocol/local-api/local-api-client.js';
import { waitForPieces } from './faults-support.js';

const MIB = 1024 * 1024;
/** The file every scenario distributes (a new one each time), and the links: the origin's slower than the hosts'. */
const SIZE = 32 * MIB;
/** Its piece length, as d7y chooses it for that size. */
const PIECE = 4 * MIB;
const ORIGIN_MBIT = 120;
const HOST_MBIT = 400;
/** Bytes a host's link carries besides piece bytes while it fetches a file: frame headers and control traffic. */
const LINK_SLACK = 512 * 1024;
const CONFIGS = join(repoRoot, 'deploy/kubernetes/overlays/full/config');
const PEERS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

type Daemon = BenchProcess & { logFile: string };

/**
 * The full overlay as hosts in network namespaces: PostgreSQL, Redis, the manager, two schedulers,
 * one seed peer and six peers, each d7y process started as its container is, from the overlay's
 * config files (mounted on /etc/d7y/config with its secrets) and the environment the manifests
 * give it (its address), the names of the Services resolved by each host's /etc/hosts.
 */
class Cluster {
  readonly daemons = new Map<string, Daemon>();
  readonly secrets = {
    'cluster-secret': randomBytes(32).toString('hex'), 'seed-secret': randomBytes(32).toString('hex'), 'node-token': `d7y_${randomBytes(32).toString('hex')}`,
  };
  postgres?: BenchProcess;
  private originLogBytes = 0;

  constructor(readonly t: ExecutionContext, readonly lab: ClusterLab, readonly dir: string, readonly originLog: string, readonly originUrl: string) {}

  /** Writes a host's /etc/d7y: the role's config file and the secrets its pod mounts. */
  async provision(host: string, file: string, secrets: (keyof Cluster['secrets'])[]): Promise<void> {
    const root = this.lab.host(host).root;
    await mkdir(join(root, 'etc/config'), { recursive: true });
    await mkdir(join(root, 'etc/secrets'), { recursive: true });
    await copyFile(join(CONFIGS, file), join(root, 'etc/config', file));
    for (const s of secrets) await writeFile(join(root, 'etc/secrets', s), `${this.secrets[s]}\n`, { mode: 0o600 });
  }

  /** Starts (or restarts) the d7y role of a host, as its manifest does, and waits until it is ready. */
  async start(host: string): Promise<Daemon> {
    const h = this.lab.host(host);
    // The test run moves the metrics listeners to port 0 through the environment; here each host has
    // its own network, so the ports of the manifests' configs (and probes) are put back.
    const [role, file, env]: [string, string, NodeJS.ProcessEnv] = host === 'manager' ? ['manager', 'manager.yaml', { D7Y_MANAGER__ROOT_PASSWORD: 'chaos-root-password' }]
      : host.startsWith('scheduler') ? ['scheduler', 'scheduler.yaml', { D7Y_SCHEDULER__LISTEN__ADVERTISE_IP: h.ip, D7Y_SCHEDULER__METRICS__LISTEN__PORT: '8000' }]
        : ['peer', host === 'seed' ? 'seed-peer.yaml' : 'peer.yaml', { D7Y_PEER__HOST__IP: h.ip, D7Y_PEER__METRICS__LISTEN__PORT: '4002' }];
    const daemon = this.lab.start(host, `${host}-${Date.now()}`, process.execPath, [d7yBin, role, '--config', `/etc/d7y/config/${file}`], env);
    this.daemons.set(host, daemon);
    await this.lab.ready(daemon, 90_000);
    return daemon;
  }

  async kill9(host: string): Promise<void> {
    const d = this.daemons.get(host)!;
    process.kill(d.pid, 'SIGKILL');
    await d.exited;
  }

  /** Body bytes the origin has sent since the last call. */
  async originBytes(): Promise<number> {
    const lines = (await readFile(this.originLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const total = lines.reduce((sum, l) => sum + Number(l.split(' ')[2] ?? 0), 0);
    const delta = total - this.originLogBytes;
    this.originLogBytes = total;
    return delta;
  }

  /** `d7y get` of a file through a peer's local API (the peer's socket in its data folder). */
  get(peer: string, name: string, out: string, timeoutS = 120): Promise<{ code: number | null; stderr: string }> {
    const socket = join(this.lab.host(peer).root, 'data/peer/peer.sock');
    return runCli(['get', `${this.originUrl}/${name}`, '-O', out, '--socket', socket, '--no-progress', '--overwrite', '--timeout', `${timeoutS}s`],
      { timeoutMs: (timeoutS + 10) * 1000 });
  }

  /** A new file of SIZE bytes on the origin. */
  async newFile(name: string): Promise<Buffer> {
    const bytes = randomBytes(SIZE);
    await writeFile(join(this.dir, 'files', name), bytes);
    return bytes;
  }

  async postgresStart(): Promise<void> {
    const h = this.lab.host('postgres');
    const data = join(h.root, 'pgdata');
    const [c, a] = ['ip', ['netns', 'exec', h.ns, 'setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', join(PG_BIN, 'postgres'),
      '-D', data, '-c', `listen_addresses=${h.ip}`, '-c', `unix_socket_directories=${h.root}`, '-c', 'fsync=off', '-c', 'max_connections=100']];
    this.postgres = startProcess(this.teardown, 'postgres', c, a, { logFile: join(this.dir, `postgres-${Date.now()}.log`) });
    await waitUntil('postgres ready', async () => {
      const client = new pg.Client({ host: h.root, port: 5432, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
      try { await client.connect(); await client.end(); return true; } catch { await client.end().catch(() => undefined); return false; }
    }, 30_000, 200);
  }

  async postgresStop(): Promise<void> {
    const p = this.postgres!;
    process.kill(p.pid, 'SIGINT');
    await p.exited;
  }

  teardown!: Teardown;
}

interface Outcome { scenario: string; seconds: number; originBytes: number; originRatio: number; note?: string }

function describe(o: Outcome): string {
  return `${o.scenario}: ${o.seconds} s, origin ${(o.originBytes / MIB).toFixed(1)} MiB (${o.originRatio} × S)${o.note ? `; ${o.note}` : ''}`;
}

async function allEqual(t: ExecutionContext, outs: string[], file: Buffer, what: string): Promise<void> {
  const want = sha(file);
  for (const out of outs) t.is(sha(await readFile(out)), want, `${what}: ${out} has every byte of the file`);
}

async function setUp(t: ExecutionContext): Promise<Cluster> {
  const dir = await tmpDir(t, 'd7y-chaos-');
  const teardown = new Teardown(20_000);
  t.teardown(() => teardown.run());
  await chmod(dir, 0o711);
  const keep = process.env.D7Y_TEST_LOGS;
  if (keep) teardown.add('keep the logs', () => run('sh', ['-c', `mkdir -p "$1" && cp "$0"/*.log "$1"/`, dir, join(keep, 'cluster-chaos')]).then(() => undefined));
  const lab = await ClusterLab.create(teardown, dir, [
    { name: 'origin', rateMbit: ORIGIN_MBIT },
    { name: 'postgres', rateMbit: HOST_MBIT, aliases: ['d7y-postgres'] },
    { name: 'redis', rateMbit: HOST_MBIT, aliases: ['d7y-redis'] },
    { name: 'manager', rateMbit: HOST_MBIT, aliases: ['d7y-manager'] },
    { name: 'scheduler-0', rateMbit: HOST_MBIT, aliases: ['d7y-scheduler-0.d7y-scheduler'] },
    { name: 'scheduler-1', rateMbit: HOST_MBIT, aliases: ['d7y-scheduler-1.d7y-scheduler'] },
    { name: 'seed', rateMbit: HOST_MBIT, aliases: ['d7y-seed-peer-0.d7y-seed-peer'] },
    ...PEERS.map((name) => ({ name, rateMbit: HOST_MBIT })),
  ]);
  await mkdir(join(dir, 'files'));
  await writeFile(join(dir, 'files/probe'), 'ok');
  const originLog = join(dir, 'origin-access.log');
  await startOrigin(teardown, lab.host('origin'), join(dir, 'files'), 80, dir, '/probe', originLog);
  const cluster = new Cluster(t, lab, dir, originLog, `http://${lab.host('origin').ip}`);
  cluster.teardown = teardown;

  // PostgreSQL and Redis, as the overlay's StatefulSets: user and database d7y.
  const pgHost = lab.host('postgres');
  const [uid, gid] = ['-u', '-g'].map((f) => Number(execFileSync('id', [f, 'postgres'], { encoding: 'utf8' }).trim()));
  await chown(pgHost.root, uid!, gid!);
  execFileSync(join(PG_BIN, 'initdb'), ['-D', join(pgHost.root, 'pgdata'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { uid, gid, stdio: 'ignore', cwd: pgHost.root });
  await writeFile(join(pgHost.root, 'pgdata/pg_hba.conf'), `local all all trust\nhost all all 10.232.0.0/24 trust\n`);
  await cluster.postgresStart();
  const admin = new pg.Client({ host: pgHost.root, port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query('create role d7y login');
  await admin.query('create database d7y owner d7y');
  await admin.end();
  const [rc, ra] = ['ip', ['netns', 'exec', lab.host('redis').ns, 'redis-server', '--bind', lab.host('redis').ip, '--port', '6379', '--protected-mode', 'no',
    '--save', '', '--appendonly', 'no', '--dir', lab.host('redis').root]];
  startProcess(teardown, 'redis', rc, ra, { logFile: join(dir, 'redis.log') });

  await cluster.provision('manager', 'manager.yaml', ['node-token']);
  for (const s of ['scheduler-0', 'scheduler-1']) await cluster.provision(s, 'scheduler.yaml', ['cluster-secret', 'seed-secret', 'node-token']);
  await cluster.provision('seed', 'seed-peer.yaml', ['cluster-secret', 'seed-secret', 'node-token']);
  for (const p of PEERS) await cluster.provision(p, 'peer.yaml', ['cluster-secret', 'node-token']);
  await cluster.start('manager');
  await Promise.all(['scheduler-0', 'scheduler-1'].map((s) => cluster.start(s)));
  await cluster.start('seed');
  await Promise.all(PEERS.map((p) => cluster.start(p)));
  // Every probe path of the manifests answers on every role.
  for (const [host, port] of [['manager', 8080], ['scheduler-0', 8000], ['scheduler-1', 8000], ['seed', 4002], ...PEERS.map((p) => [p, 4002])] as [string, number][]) {
    await waitUntil(`${host} ready`, async () => (await lab.httpGet(host, `http://${lab.host(host).ip}:${port}/readyz`)).status === 200, 30_000, 250);
    t.is((await lab.httpGet(host, `http://${lab.host(host).ip}:${port}/healthz`)).status, 200, `${host} /healthz`);
  }
  return cluster;
}

const TITLE = 'a full cluster in network namespaces survives killed schedulers, seed peer and peers, a PostgreSQL restart and a link cut mid-piece';
const unavailable = await clusterLabUnavailable();

// Never a silent skip: where the lab cannot be built the test fails and says why.
if (unavailable) {
  test(TITLE, (t) => {
    t.fail(`FAILED: the cluster lab cannot run here (${unavailable}); run the tests as root on Linux with iproute2 (ip netns) and tc`);
  });
} else test.serial(TITLE, async (t) => {
  t.timeout(290_000);
  await run('bash', [join(repoRoot, 'scripts/test-deps.sh')], 600_000);
  const started = Date.now();
  const c = await setUp(t);
  t.log(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const outcomes: Outcome[] = [];
  const outDir = join(c.dir, 'out');
  await mkdir(outDir);
  const record = async (scenario: string, began: number, note?: string) => {
    const originBytes = await c.originBytes();
    const o: Outcome = { scenario, seconds: Math.round((Date.now() - began) / 100) / 10, originBytes, originRatio: Math.round((originBytes / SIZE) * 100) / 100, note };
    outcomes.push(o);
    t.log(describe(o));
    return originBytes;
  };
  const swarm = (name: string, peers = PEERS) => peers.map((p) => c.get(p, name, join(outDir, `${name}-${p}`)));
  const outs = (name: string, peers = PEERS) => peers.map((p) => join(outDir, `${name}-${p}`));
  await c.originBytes();

  // 1. kill -9 the seed peer mid-download: the swarm still finishes, the origin sends at most 2 × S.
  {
    const file = await c.newFile('s2.bin');
    const began = Date.now();
    const before = await c.lab.linkBytes('origin', 'tx');
    const gets = swarm('s2.bin');
    await waitUntil('the seed reading the origin', async () => (await c.lab.linkBytes('origin', 'tx')) - before > SIZE / 4, 30_000, 50);
    await c.kill9('seed');
    const results = await Promise.all(gets);
    for (const r of results) t.is(r.code, 0, r.stderr);
    await allEqual(t, outs('s2.bin'), file, 'seed killed');
    const origin = await record('kill -9 the seed peer mid-download', began);
    t.true(origin <= 2 * SIZE, `the origin sent ${origin} bytes, at most 2 × ${SIZE}`);
    await c.start('seed');
  }

  // 2. kill -9 the task's scheduler mid-download: its peers move to the other one and finish, from the
  //    seed and each other (the origin sends at most 2 × S, not S per peer).
  {
    const file = await c.newFile('s1.bin');
    const addresses = ['scheduler-0', 'scheduler-1'].map((s) => `${c.lab.host(s).ip}:8002`);
    const owner = new HashRing(addresses).get(taskId({ url: `${c.originUrl}/s1.bin` })) === addresses[0] ? 'scheduler-0' : 'scheduler-1';
    const began = Date.now();
    const before = await c.lab.linkBytes('origin', 'tx');
    const gets = swarm('s1.bin');
    await waitUntil('the download under way', async () => (await c.lab.linkBytes('origin', 'tx')) - before > SIZE / 4, 30_000, 50);
    await c.kill9(owner);
    const results = await Promise.all(gets);
    for (const r of results) t.is(r.code, 0, r.stderr);
    await allEqual(t, outs('s1.bin'), file, 'scheduler killed');
    const origin = await record(`kill -9 ${owner} (the task's scheduler) mid-download`, began);
    t.true(origin <= 2 * SIZE, `the origin sent ${origin} bytes, at most 2 × ${SIZE}`);
    await c.start(owner);
  }

  // 3. Restart PostgreSQL: the manager stays up, says it is not ready meanwhile, reconnects, and a preheat job runs.
  {
    const file = await c.newFile('s3.bin');
    const began = Date.now();
    const manager = c.daemons.get('manager')!;
    const readyz = `http://${c.lab.host('manager').ip}:8080/readyz`;
    await c.postgresStop();
    await waitUntil('the manager not ready', async () => (await c.lab.httpGet('manager', readyz)).status === 503, 20_000, 250);
    t.is((await c.lab.httpGet('manager', `http://${c.lab.host('manager').ip}:8080/healthz`)).status, 200, 'alive while its database is down');
    await c.postgresStart();
    await waitUntil('the manager ready again', async () => (await c.lab.httpGet('manager', readyz)).status === 200, 30_000, 250);
    t.is(manager.child.exitCode, null, 'the manager was not restarted');
    // A scheduler restarted in scenario 2 knows the seed only once it announces again (peer.announceInterval, 30 s):
    // until then a preheat finds no seed peer in its scope and fails. Tried again at most twice.
    let preheat = '';
    let attempts = 0;
    for (; attempts < 3; attempts++) {
      if (attempts) await new Promise((r) => setTimeout(r, 12_000));
      preheat = await c.lab.exec('manager', process.execPath, [d7yBin, 'preheat', `${c.originUrl}/s3.bin`, '--manager', `http://${c.lab.host('manager').ip}:8080`,
        '--token', c.secrets['node-token'], '--wait', '--timeout', '60s'], 90_000).catch((err: Error) => `failed: ${err.message}`);
      if (!preheat.startsWith('failed')) break;
    }
    t.notRegex(preheat, /^failed/, 'the preheat job ran after the restart');
    const results = await Promise.all(swarm('s3.bin'));
    for (const r of results) t.is(r.code, 0, r.stderr);
    await allEqual(t, outs('s3.bin'), file, 'after the PostgreSQL restart');
    const origin = await record('restart PostgreSQL, then a preheat job and the swarm', began, `preheat attempts: ${attempts + 1}`);
    t.true(origin <= 1.25 * SIZE, `preheated: the origin sent ${origin} bytes, about S`);
  }

  // 4. kill -9 a peer daemon mid-download and start it again: its task resumes from its disk.
  {
    const file = await c.newFile('s4.bin');
    const began = Date.now();
    const others = swarm('s4.bin', PEERS.filter((p) => p !== 'p3'));
    const first = c.get('p3', 's4.bin', join(outDir, 's4.bin-p3'));
    const api = new LocalApiClient(join(c.lab.host('p3').root, 'data/peer/peer.sock'));
    const held = await waitForPieces(api, taskId({ url: `${c.originUrl}/s4.bin` }), 3, 60_000).finally(() => api.close());
    await c.kill9('p3');
    t.not((await first).code, 0, 'the get of the killed daemon fails');
    await c.start('p3');
    const rx1 = await c.lab.linkBytes('p3', 'rx');
    const again = await c.get('p3', 's4.bin', join(outDir, 's4.bin-p3'));
    t.is(again.code, 0, again.stderr);
    const fetchedAgain = (await c.lab.linkBytes('p3', 'rx')) - rx1;
    // Every piece the daemon said it held when killed is kept: only the others (and the frames' headers) cross its link again.
    const bound = SIZE - held.heldPieces * PIECE + LINK_SLACK;
    t.true(fetchedAgain <= bound, `after the restart p3 received ${fetchedAgain} bytes, at most ${bound}: the ${held.heldPieces} pieces it held were kept`);
    for (const r of await Promise.all(others)) t.is(r.code, 0, r.stderr);
    await allEqual(t, outs('s4.bin'), file, 'peer killed and restarted');
    await record('kill -9 the daemon of p3 halfway, start it again', began, `p3 held ${held.heldPieces} of ${SIZE / PIECE} pieces when killed, fetched ${(fetchedAgain / MIB).toFixed(1)} MiB after the restart`);
  }

  // 5. A parent's link goes down mid-piece: its children fetch elsewhere.
  {
    const file = await c.newFile('s5.bin');
    const began = Date.now();
    const parent = await c.get('p1', 's5.bin', join(outDir, 's5.bin-p1'));
    t.is(parent.code, 0, parent.stderr);
    const children = PEERS.filter((p) => p !== 'p1');
    const tx0 = await c.lab.linkBytes('p1', 'tx');
    const gets = swarm('s5.bin', children);
    await waitUntil('p1 serving its children', async () => (await c.lab.linkBytes('p1', 'tx')) - tx0 > SIZE / 4, 60_000, 20);
    await c.lab.link('p1', 'down');
    const results = await Promise.all(gets);
    await c.lab.link('p1', 'up');
    for (const r of results) t.is(r.code, 0, r.stderr);
    await allEqual(t, outs('s5.bin'), file, 'parent link down');
    await record('the link of a parent (p1) down mid-piece', began, `p1 had sent ${((await c.lab.linkBytes('p1', 'tx') - tx0) / MIB).toFixed(1)} MiB`);
  }

  t.log(`S = ${SIZE / MIB} MiB, origin link ${ORIGIN_MBIT} Mbit/s, hosts ${HOST_MBIT} Mbit/s; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await writeFile(join(repoRoot, 'dist/test/e2e/cluster-chaos.last.json'), JSON.stringify({ size: SIZE, outcomes }, null, 2)).catch(() => undefined);
  // Stop the daemons gracefully before the namespaces go (teardown kills what is left).
  await Promise.all([...c.daemons.values()].map((d) => stopProcess(d, 5_000)));
});
